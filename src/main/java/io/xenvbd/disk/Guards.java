package io.xenvbd.disk;

import java.nio.file.Path;
import java.util.List;
import java.util.Optional;

/**
 * The two refusals that protect an existing image: it belongs to someone else, or something uses
 * it.
 */
final class Guards {
  private Guards() {}

  /**
   * ImageInUse when a loop device holds the image, it is mounted, or a process has it open (a guest
   * on the qdisk or tap backend holds no loop device): a guest (or a person) is using it.
   */
  static void refuseInUse(LoopDeviceTable loops, MountTable mounts, Path image, String what) {
    refuseInUse(loops, mounts, image, what, Holders.of(image));
  }

  /** As {@link #refuseInUse(LoopDeviceTable, MountTable, Path, String)}, with the holders found. */
  static void refuseInUse(
      LoopDeviceTable loops, MountTable mounts, Path image, String what, List<String> holders) {
    refuseAttached(loops, mounts, image, what);
    if (!holders.isEmpty()) {
      throw new DiskException(
          ErrorCode.ImageInUse,
          "cannot "
              + what
              + " "
              + image
              + ": process "
              + String.join(", ", holders)
              + " has it open; stop the guest using it and retry");
    }
  }

  /**
   * ImageInUse when a loop device holds the image or it is mounted (a clone's source: the processes
   * that hold it are checked right before its copy, {@link CloneCopies}).
   */
  static void refuseAttached(LoopDeviceTable loops, MountTable mounts, Path image, String what) {
    List<String> devs = loops.devicesBackedBy(image);
    if (!devs.isEmpty() || mounts.isSourceMounted(image)) {
      throw new DiskException(
          ErrorCode.ImageInUse,
          "cannot "
              + what
              + " "
              + image
              + ": it is "
              + (devs.isEmpty() ? "mounted" : "attached to " + String.join(", ", devs))
              + "; stop the guest using it (or umount / losetup -d it) and retry");
    }
  }

  static DiskException notOwner(String ns, String name, Optional<ImageMetadata> meta, Path image) {
    if (meta.isPresent() && meta.get().released() != null) {
      ImageMetadata.Released r = meta.get().released();
      return new DiskException(
          ErrorCode.NotOwner,
          "image "
              + image
              + " was released by VirtualDisk "
              + r.namespace()
              + "/"
              + r.name()
              + " (reclaimPolicy Retain) and is kept: take it back with spec.populate.adopt.name "
              + r.name()
              + ", choose another name than "
              + ns
              + "/"
              + name
              + ", or ask the node's admin to delete the file");
    }
    return new DiskException(
        ErrorCode.NotOwner,
        "image "
            + image
            + " belongs to "
            + meta.map(m -> "another VirtualDisk")
                .orElse("no VirtualDisk (it has no xenvbd metadata)")
            + ": delete or rename that image on the node, or choose another name than "
            + ns
            + "/"
            + name);
  }
}
