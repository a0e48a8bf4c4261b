package io.xenvbd.disk;

import com.fasterxml.jackson.annotation.JsonIgnoreProperties;
import com.fasterxml.jackson.annotation.JsonInclude;
import io.xenvbd.api.VirtualDiskStatus;
import java.time.Instant;

/**
 * The file beside each image ({@code <name>.img.json}): who owns it and what it was built from;
 * {@code cloned} (null for a disk that is no clone) how a clone's image was copied.
 */
// Unknown fields are ignored so that a newer agent's metadata never turns an image into an orphan.
@JsonIgnoreProperties(ignoreUnknown = true)
@JsonInclude(JsonInclude.Include.NON_NULL)
public record ImageMetadata(int version, String namespace, String name, String ownerUid, String specDigest,
    String filesystem, String filesystemUuid, long capacityBytes, Instant createdAt, Instant updatedAt,
    VirtualDiskStatus.Clone cloned) {

  ImageMetadata resized(long newCapacity, Instant now) {
    return new ImageMetadata(version, namespace, name, ownerUid, specDigest, filesystem, filesystemUuid,
        newCapacity, createdAt, now, cloned);
  }
}
