package io.xenvbd.disk;

import io.xenvbd.api.VirtualDiskSpec.Filesystem;
import java.io.IOException;
import java.io.RandomAccessFile;
import java.nio.file.Path;
import java.time.Duration;

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
      case none -> {}
      case xfs -> mounter.withMounted(image, fs, mnt -> runner.run("xfs_growfs", mnt.toString()));
      default ->
          Uninterruptible.run(
              "resize",
              () -> {
                // e2fsck and resize2fs rewrite the filesystem in place: never killed half-way, by
                // an interrupt
                // or by a timeout. A grow cut short (the agent killed) resumes: the next call finds
                // the file
                // long enough, and e2fsck and resize2fs carry on from the filesystem as it is.
                formatter.preen(
                    image,
                    NEVER); // resize2fs refuses a filesystem that was not checked since its last
                // mount
                CommandRunner.Result r = formatter.resize2fs(image, NEVER);
                if (!r.ok()) throw CommandRunner.failure(r);
                // resize2fs leaves out a last block group too small to hold its own metadata (a few
                // MiB at most).
                long fsBytes = formatter.ext2Bytes(image);
                if (newSize - fsBytes >= Math.min(8L << 20, newSize - oldSize)) {
                  throw new DiskException(
                      ErrorCode.CommandFailed,
                      "resize2fs left the filesystem of "
                          + image
                          + " at "
                          + fsBytes
                          + " bytes instead of "
                          + newSize
                          + ": the disk stays at its old size; see the agent log");
                }
              });
    }
  }

  /** No timeout: a filesystem rewrite in place is never killed half-way. */
  private static final Duration NEVER = Duration.ofDays(3650);
}
