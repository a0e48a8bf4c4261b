package io.xenvbd.disk;

import java.util.concurrent.CompletableFuture;
import java.util.concurrent.ExecutionException;
import java.util.function.Supplier;

/**
 * Work that must not be cut half-way: unmounting, detaching, removing temporaries, rewriting a
 * filesystem in place. It runs on its own thread, so an interrupt of the caller (a cancelled build,
 * a stopping agent) that arrives meanwhile cannot kill an umount or a resize2fs mid-way; the caller
 * waits for the end and gets its interrupt back afterwards. Timeouts still apply inside the work.
 */
final class Uninterruptible {
  private Uninterruptible() {}

  static void run(String what, Runnable work) {
    call(
        what,
        () -> {
          work.run();
          return null;
        });
  }

  static <T> T call(String what, Supplier<T> work) {
    CompletableFuture<T> result = new CompletableFuture<>();
    Thread t =
        new Thread(
            () -> {
              try {
                result.complete(work.get());
              } catch (Throwable e) {
                result.completeExceptionally(e);
              }
            },
            "xenvbd-" + what);
    t.setDaemon(true);
    t.start();
    boolean interrupted = false;
    try {
      while (true) {
        try {
          return result.get();
        } catch (InterruptedException e) {
          interrupted = true; // kept for the caller once the work is done
        } catch (ExecutionException e) {
          if (e.getCause() instanceof RuntimeException re) throw re;
          if (e.getCause() instanceof Error err) throw err;
          throw new IllegalStateException(e.getCause());
        }
      }
    } finally {
      if (interrupted) Thread.currentThread().interrupt();
    }
  }
}
