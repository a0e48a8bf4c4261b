package io.xenvbd.disk;

import java.io.IOException;
import java.nio.channels.ClosedByInterruptException;
import java.nio.file.FileSystemException;

/** Maps Java I/O failures to the engine's typed errors. */
final class Io {
  private Io() {}

  static DiskException wrap(IOException e, String doing) {
    if (e instanceof ClosedByInterruptException) {
      Thread.interrupted(); // cleanup below must still be able to run commands
      return new DiskException(ErrorCode.Interrupted, "interrupted while " + doing, e);
    }
    String msg =
        e instanceof FileSystemException fse && fse.getReason() != null
            ? fse.getReason()
            : String.valueOf(e.getMessage());
    if (CommandRunner.isNoSpace(msg)) {
      return new DiskException(
          ErrorCode.NoSpace,
          "no space left on the images root while "
              + doing
              + ": free space there or ask for a smaller disk",
          e);
    }
    return new DiskException(ErrorCode.CommandFailed, doing + " failed: " + e, e);
  }

  /** Throws Interrupted between steps, so a long build stops promptly after Thread.interrupt(). */
  static void checkInterrupted(String doing) {
    if (Thread.interrupted())
      throw new DiskException(ErrorCode.Interrupted, "interrupted before " + doing);
  }
}
