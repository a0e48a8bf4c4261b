package io.xenvbd.disk;

import java.nio.file.Path;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.ExecutionException;

/**
 * The fsync of a freshly written image, started at once on its own thread so that the write-out of
 * its data to the images root overlaps what the build does next (add the journal, check the
 * filesystem, read its UUID: tools that read the image from the page cache meanwhile). The build
 * waits for it before it publishes, and {@link Publisher#publish} syncs again, so what is published
 * is on disk as before; only the waiting moved.
 */
final class Flush {
  private final CompletableFuture<Void> done = new CompletableFuture<>();

  private Flush() {}

  static Flush start(Path image) {
    Flush f = new Flush();
    Thread t =
        new Thread(
            () -> {
              try {
                Publisher.fsync(image);
                f.done.complete(null);
              } catch (RuntimeException e) {
                f.done.completeExceptionally(e);
              }
            },
            "xenvbd-flush");
    t.setDaemon(true);
    t.start();
    return f;
  }

  /**
   * Waits for the fsync; its error is the build's. An interrupt meanwhile (a delete, a deadline)
   * ends the build as Interrupted once the fsync is over, so no write to the file outlives it.
   */
  void await() {
    boolean interrupted = false;
    try {
      while (true) {
        try {
          done.get();
          break;
        } catch (InterruptedException e) {
          interrupted = true;
        } catch (ExecutionException e) {
          throw e.getCause() instanceof RuntimeException re
              ? re
              : new DiskException(
                  ErrorCode.CommandFailed, "syncing the image failed", e.getCause());
        }
      }
    } finally {
      if (interrupted) Thread.currentThread().interrupt();
    }
    if (interrupted)
      throw new DiskException(ErrorCode.Interrupted, "interrupted while the image was written out");
  }

  /** Waits for the fsync to end (a failed build's temporary file is removed after it). */
  void awaitQuietly() {
    try {
      await();
    } catch (RuntimeException ignored) {
      // the build failed already; this is only the order of cleanup
    }
  }
}
