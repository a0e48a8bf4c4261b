package io.xenvbd.disk;

import io.xenvbd.api.VirtualDiskSpec.Filesystem;
import java.io.IOException;
import java.io.RandomAccessFile;
import java.nio.file.Path;

/** Grows an image: the file sparsely (or preallocated), then its filesystem. Never shrinks. */
final class Resizer {
  private final CommandRunner runner;
  private final Formatter formatter;
  private final LoopMounter mounter;

  Resizer(CommandRunner runner, Formatter formatter, LoopMounter mounter) {
    this.runner = runner;
    this.formatter = formatter;
    this.mounter = mounter;
  }

  /** Idempotent: a repeated call after a failure grows whatever was not grown yet. */
  void grow(Path image, Filesystem fs, long oldSize, long newSize, boolean preallocate) {
    try (RandomAccessFile f = new RandomAccessFile(image.toFile(), "rw")) {
      if (f.length() < newSize) f.setLength(newSize);
    } catch (IOException e) {
      throw Io.wrap(e, "enlarging " + image);
    }
    if (preallocate) formatter.preallocate(image, oldSize, newSize - oldSize);
    switch (fs) {
      case none -> { }
      case xfs -> mounter.withMounted(image, mnt -> runner.run("xfs_growfs", mnt.toString()));
      default -> Uninterruptible.run("resize", () -> {
        // e2fsck and resize2fs rewrite the filesystem in place: never killed half-way by an interrupt.
        formatter.preen(image); // resize2fs refuses a filesystem that was not checked since its last mount
        runner.run("resize2fs", image.toString());
      });
    }
  }
}
