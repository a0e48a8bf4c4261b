package io.xenvbd.disk;

import java.io.IOException;
import java.io.UncheckedIOException;
import java.nio.file.Files;
import java.nio.file.LinkOption;
import java.nio.file.Path;
import java.util.concurrent.Executors;
import java.util.concurrent.ScheduledExecutorService;
import java.util.concurrent.TimeUnit;
import java.util.function.LongConsumer;
import java.util.stream.Stream;

/**
 * Every second, the apparent bytes of regular files under a copy's destination, while the copy
 * runs.
 */
final class CopyProgress implements AutoCloseable {
  private final ScheduledExecutorService timer =
      Executors.newSingleThreadScheduledExecutor(
          r -> {
            Thread t = new Thread(r, "copy-progress");
            t.setDaemon(true);
            return t;
          });

  CopyProgress(Path dir, LongConsumer bytes) {
    timer.scheduleWithFixedDelay(
        () -> {
          long sum = measure(dir);
          if (sum >= 0) bytes.accept(sum);
        },
        1,
        1,
        TimeUnit.SECONDS);
  }

  static long measure(Path dir) {
    if (!Files.exists(dir, LinkOption.NOFOLLOW_LINKS)) return 0;
    try (Stream<Path> walk = Files.walk(dir)) {
      return walk.filter(p -> Files.isRegularFile(p, LinkOption.NOFOLLOW_LINKS))
          .mapToLong(
              p -> {
                try {
                  return Files.size(p);
                } catch (IOException e) {
                  return 0; // vanished or not yet readable: counted next time
                }
              })
          .sum();
    } catch (IOException | UncheckedIOException e) {
      return -1;
    }
  }

  @Override
  public void close() {
    timer.shutdownNow();
    try {
      timer.awaitTermination(5, TimeUnit.SECONDS); // no late report after the copy's final one
    } catch (InterruptedException e) {
      Thread.currentThread().interrupt();
    }
  }
}
