package io.xenvbd.disk;

import io.xenvbd.api.Populate;
import io.xenvbd.api.VirtualDiskSpec.Filesystem;
import java.nio.file.Files;
import java.nio.file.Path;

/** Choices and checks made before a build touches anything. */
final class Methods {
  private Methods() {}

  /** Auto: Offline (mke2fs -d, no loop device) for ext2/3/4, LoopMount otherwise. */
  static boolean offline(Filesystem fs, Populate pop) {
    boolean ext = fs == Filesystem.ext2 || fs == Filesystem.ext3 || fs == Filesystem.ext4;
    return switch (pop.method()) {
      case Auto -> ext;
      case LoopMount -> false;
      case Offline -> {
        if (fs == Filesystem.xfs) {
          throw DiskException.invalid("populate.method Offline builds the filesystem with mke2fs -d and works for"
              + " ext2/3/4 only: use LoopMount (or Auto) for xfs");
        }
        yield true;
      }
    };
  }

  /**
   * The published image cloneFrom names: same namespace, must exist with metadata and the same
   * filesystem, and be owned by the source uid the request names (when it names one).
   */
  static Path cloneSource(ImagePaths paths, Publisher publisher, DiskRequest req, Populate pop) {
    String src = pop.cloneFrom().name();
    Path image = paths.image(req.namespace(), src);
    var meta = publisher.readMetadata(paths.metadata(req.namespace(), src));
    if (!Files.isRegularFile(image) || meta.isEmpty()) {
      throw new DiskException(ErrorCode.NotFound, "cloneFrom '" + src + "': no published image " + image
          + " on this node: wait until that VirtualDisk is Ready");
    }
    if (req.cloneSourceUid() != null && !req.cloneSourceUid().equals(meta.get().ownerUid())) {
      // another VirtualDisk's image under the source's name: one deleted (and retained), or recreated
      throw new DiskException(ErrorCode.NotFound, "cloneFrom '" + src + "': the image " + image + " on this node"
          + " is not the one of the VirtualDisk " + src + " that is Ready now (a VirtualDisk of that name was deleted"
          + " and its image kept, or recreated elsewhere): clone a disk whose image is on this node");
    }
    if (!meta.get().filesystem().equals(req.spec().filesystem().name())) {
      throw DiskException.invalid("cloneFrom '" + src + "' has filesystem " + meta.get().filesystem()
          + " but this disk asks for " + req.spec().filesystem() + ": set spec.filesystem to " + meta.get().filesystem());
    }
    if (meta.get().capacityBytes() > req.sizeBytes()) {
      throw DiskException.invalid("cloneFrom '" + src + "' is " + meta.get().capacityBytes() + " bytes; spec.size ("
          + req.sizeBytes() + " bytes) must be at least that");
    }
    return image;
  }
}
