package io.xenvbd.disk;

import java.nio.file.Path;
import java.util.List;

/** What lies under the images root. */
public record Inventory(
    List<ImageInfo> images,
    List<Released> released, // kept after their VirtualDisk went (Retain): adoptable
    List<Path> orphans, // image files with no/unknown metadata
    List<Path> leftovers) { // temp files of interrupted builds

  /** A released image: its file, what it holds, and whose it was. */
  public record Released(
      Path path,
      long capacityBytes,
      long allocatedBytes,
      String filesystem,
      String filesystemUuid,
      ImageMetadata.Released former) {}
}
