package io.xenvbd.disk;

import com.fasterxml.jackson.annotation.JsonIgnoreProperties;
import com.fasterxml.jackson.annotation.JsonInclude;
import io.xenvbd.api.VirtualDiskStatus;
import java.time.Instant;

/**
 * The file beside each image ({@code <name>.img.json}): who owns it and what it was built from;
 * {@code cloned} (null for a disk that is no clone) how a clone's image was copied. A released
 * image (its VirtualDisk went with reclaimPolicy Retain) keeps its file and this record with {@code
 * released} set: it is owned by nobody until a VirtualDisk adopts it. {@code ownerUid} keeps the
 * former owner's uid, so that an agent from before releases (which ignores {@code released}) still
 * sees the image as that gone owner's and never as free to build over.
 */
// Unknown fields are ignored so that a newer agent's metadata never turns an image into an orphan.
@JsonIgnoreProperties(ignoreUnknown = true)
@JsonInclude(JsonInclude.Include.NON_NULL)
public record ImageMetadata(
    int version,
    String namespace,
    String name,
    String ownerUid,
    String specDigest,
    String filesystem,
    String filesystemUuid,
    long capacityBytes,
    Instant createdAt,
    Instant updatedAt,
    VirtualDiskStatus.Clone cloned,
    Released released) {

  /** The former owner of a released image, kept for the record and for who may adopt it. */
  @JsonIgnoreProperties(ignoreUnknown = true)
  public record Released(String namespace, String name, String uid, Instant at) {}

  /** An image that is no clone and not released. */
  public ImageMetadata(
      int version,
      String namespace,
      String name,
      String ownerUid,
      String specDigest,
      String filesystem,
      String filesystemUuid,
      long capacityBytes,
      Instant createdAt,
      Instant updatedAt) {
    this(
        version,
        namespace,
        name,
        ownerUid,
        specDigest,
        filesystem,
        filesystemUuid,
        capacityBytes,
        createdAt,
        updatedAt,
        null,
        null);
  }

  /** Whether {@code uid} owns the image now: a released image is owned by nobody. */
  boolean ownedBy(String uid) {
    return released == null && ownerUid != null && ownerUid.equals(uid);
  }

  ImageMetadata resized(long newCapacity, Instant now) {
    return new ImageMetadata(
        version,
        namespace,
        name,
        ownerUid,
        specDigest,
        filesystem,
        filesystemUuid,
        newCapacity,
        createdAt,
        now,
        cloned,
        released);
  }

  ImageMetadata release(Instant now) {
    return new ImageMetadata(
        version,
        namespace,
        name,
        ownerUid,
        specDigest,
        filesystem,
        filesystemUuid,
        capacityBytes,
        createdAt,
        now,
        cloned,
        new Released(namespace, name, ownerUid, now));
  }
}
