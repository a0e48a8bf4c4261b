package io.xenvbd.disk;

import io.xenvbd.api.Populate;
import io.xenvbd.api.VirtualDiskSpec.Filesystem;
import java.nio.file.Files;
import java.nio.file.Path;

/** Choices and checks made before a build touches anything. */
final class Methods {
  private Methods() {}

  /**
   * Auto: for ext2/3/4, LoopMount (the recipe's path, about 1.5× faster for a tree to copy) while
   * the node has more free loop devices than {@code loopReserve}, which an admin keeps for guests;
   * at or below the reserve, Offline (mke2fs -d, no loop device). A clone or a disk with no tree to
   * copy stays Offline: debugfs tailors it without a mount. xfs is always LoopMount.
   */
  static boolean offline(Filesystem fs, Populate pop, LoopStatus loops, int loopReserve) {
    boolean ext = fs == Filesystem.ext2 || fs == Filesystem.ext3 || fs == Filesystem.ext4;
    return switch (pop.method()) {
      case Auto ->
          ext && !(hasTree(pop) && pop.cloneFrom() == null && spareLoops(loops) > loopReserve);
      case LoopMount -> false;
      case Offline -> {
        if (fs == Filesystem.xfs) {
          throw DiskException.invalid(
              "populate.method Offline builds the filesystem with mke2fs -d and works for"
                  + " ext2/3/4 only: use LoopMount (or Auto) for xfs");
        }
        yield true;
      }
    };
  }

  /** Loop devices that can still be attached; unlimited (max_loop 0) counts as always spare. */
  static long spareLoops(LoopStatus loops) {
    return loops.max() <= 0 ? Long.MAX_VALUE : loops.max() - loops.inUse().size();
  }

  private static boolean hasTree(Populate pop) {
    return pop.archive() != null || !pop.hostPaths().isEmpty();
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
      throw new DiskException(
          ErrorCode.NotFound,
          "cloneFrom '"
              + src
              + "': no published image "
              + image
              + " on this node: wait until that VirtualDisk is Ready");
    }
    if (meta.get().released() != null
        || (req.cloneSourceUid() != null && !req.cloneSourceUid().equals(meta.get().ownerUid()))) {
      // another VirtualDisk's image under the source's name: one deleted (and retained), or
      // recreated
      throw new DiskException(
          ErrorCode.NotFound,
          "cloneFrom '"
              + src
              + "': the image "
              + image
              + " on this node"
              + " is not the one of the VirtualDisk "
              + src
              + " that is Ready now (a VirtualDisk of that name was deleted"
              + " and its image kept, or recreated elsewhere): clone a disk whose image is on this node");
    }
    if (!meta.get().filesystem().equals(req.spec().filesystem().name())) {
      throw DiskException.invalid(
          "cloneFrom '"
              + src
              + "' has filesystem "
              + meta.get().filesystem()
              + " but this disk asks for "
              + req.spec().filesystem()
              + ": set spec.filesystem to "
              + meta.get().filesystem());
    }
    if (meta.get().capacityBytes() > req.sizeBytes()) {
      throw DiskException.invalid(
          "cloneFrom '"
              + src
              + "' is "
              + meta.get().capacityBytes()
              + " bytes; spec.size ("
              + req.sizeBytes()
              + " bytes) must be at least that");
    }
    return image;
  }
}
