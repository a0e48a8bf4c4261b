package io.xenvbd.disk;

import static org.assertj.core.api.Assertions.assertThat;

import java.io.IOException;
import java.io.RandomAccessFile;
import java.io.UncheckedIOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardCopyOption;
import java.time.Duration;
import java.util.Arrays;
import java.util.List;
import java.util.concurrent.atomic.AtomicBoolean;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * Allocated bytes are remembered between status polls, but never past a change to the file: a
 * write, a hole punched, or another file renamed into its place.
 */
class AllocatedBytesTest {
  static final CommandRunner RUN = new CommandRunner(Duration.ofMinutes(1));
  @TempDir Path tmp;

  @Test
  void everyChangeToTheFileIsSeenAtOnce() throws Exception {
    Formatter f = new Formatter(RUN);
    Path image = tmp.resolve("a.img");
    f.create(image, 64L << 20, false);
    assertThat(f.allocated(image)).isLessThan(1L << 20);

    byte[] mib = new byte[1 << 20];
    Arrays.fill(mib, (byte) 7);
    try (RandomAccessFile raf = new RandomAccessFile(image.toFile(), "rw")) {
      raf.seek(8L << 20);
      raf.write(mib);
      raf.getFD().sync();
    }
    assertThat(f.allocated(image)).as("after writing 1 MiB").isGreaterThanOrEqualTo(1L << 20);

    RUN.run(
        List.of(
            "fallocate",
            "--punch-hole",
            "--offset",
            Long.toString(8L << 20),
            "--length",
            Long.toString(1L << 20),
            image.toString()));
    assertThat(f.allocated(image)).as("after punching the hole").isLessThan(1L << 20);

    Thread.sleep(
        2100); // old enough to be remembered (a file changed in the last 2 s is always measured)
    assertThat(f.allocated(image)).isLessThan(1L << 20);
    try (RandomAccessFile raf = new RandomAccessFile(image.toFile(), "rw")) {
      raf.seek(16L << 20);
      raf.write(mib);
    }
    assertThat(f.allocated(image))
        .as("a write after the remembered measurement")
        .isGreaterThanOrEqualTo(1L << 20);

    Path other = tmp.resolve("b.img");
    f.create(other, 64L << 20, true); // same size, fully allocated
    Files.move(other, image, StandardCopyOption.REPLACE_EXISTING);
    assertThat(f.allocated(image))
        .as("another file renamed into place")
        .isGreaterThanOrEqualTo(64L << 20);
  }

  /**
   * A measurement is reused once it began more than a timestamp tick after the file's last change
   * (50 ms on a filesystem with nanosecond timestamps, as this one): a write right after it, in the
   * same millisecond, still stamps a later mtime, and is seen at once.
   */
  @Test
  void aWriteRightAfterARememberedMeasurementIsSeen() throws Exception {
    Formatter f = new Formatter(RUN);
    Path image = tmp.resolve("fresh.img");
    f.create(image, 64L << 20, false);
    Thread.sleep(100);
    assertThat(f.allocated(image)).isLessThan(1L << 20); // remembered from here on
    byte[] mib = new byte[1 << 20];
    Arrays.fill(mib, (byte) 7);
    for (int round = 0; round < 3; round++) {
      try (RandomAccessFile raf = new RandomAccessFile(image.toFile(), "rw")) {
        raf.seek((8L + 4 * round) << 20);
        raf.write(mib);
        raf.getFD().sync();
      }
      assertThat(f.allocated(image))
          .as("after writing MiB number " + (round + 1))
          .isGreaterThanOrEqualTo((round + 1L) << 20);
      Thread.sleep(60);
      f.allocated(image); // measured again, now remembered
    }
  }

  /**
   * A heartbeat lists the images and then measures each: an image deleted in between is left out of
   * the report, instead of failing the whole heartbeat (which, during the deletes of a fleet, kept
   * the node's freed room from the operator until a later beat).
   */
  @Test
  void imagesDeletedWhileTheNodeIsReportedAreLeftOut() throws Exception {
    Path root = tmp.resolve("root");
    DiskEngine engine = DiskTestSupport.engine(root);
    Files.createDirectories(root.resolve("default"));
    AtomicBoolean stop = new AtomicBoolean();
    Thread churn =
        new Thread(
            () -> {
              for (int i = 0; !stop.get(); i++) {
                Path p = root.resolve("default/churn-" + (i % 8) + ".img");
                try {
                  Files.write(p, new byte[4096]);
                  Files.deleteIfExists(p);
                } catch (IOException e) {
                  throw new UncheckedIOException(e);
                }
              }
            });
    churn.start();
    try {
      for (int i = 0; i < 200; i++) {
        StorageInfo s = engine.storage(); // stat is run for each fresh file: a wide window
        assertThat(s.promisedBytes()).isBetween(0L, 8L * 4096);
        engine.inventory();
      }
    } finally {
      stop.set(true);
      churn.join(10_000);
      engine.close();
    }
  }
}
