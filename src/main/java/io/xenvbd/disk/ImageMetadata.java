package io.xenvbd.disk;

import com.fasterxml.jackson.annotation.JsonIgnoreProperties;
import java.time.Instant;

/** The file beside each image ({@code <name>.img.json}): who owns it and what it was built from. */
// Unknown fields are ignored so that a newer agent's metadata never turns an image into an orphan.
@JsonIgnoreProperties(ignoreUnknown = true)
public record ImageMetadata(int version, String namespace, String name, String ownerUid, String specDigest,
    String filesystem, String filesystemUuid, long capacityBytes, Instant createdAt, Instant updatedAt) {

  ImageMetadata resized(long newCapacity, Instant now) {
    return new ImageMetadata(version, namespace, name, ownerUid, specDigest, filesystem, filesystemUuid,
        newCapacity, createdAt, now);
  }
}
