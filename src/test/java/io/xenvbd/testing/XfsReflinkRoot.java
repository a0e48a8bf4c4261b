package io.xenvbd.testing;

import java.io.File;
import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import java.util.concurrent.TimeUnit;

/**
 * An XFS filesystem with reflink, made on a sparse file and loop-mounted, to serve as an images
 * root where the machine's own filesystem cannot reflink (tests and the fleet benchmark). Closing
 * it unmounts it, which releases its loop device (mount -o loop attaches with autoclear).
 */
public final class XfsReflinkRoot implements AutoCloseable {
  public final Path mountPoint;
  private final Path file;

  private XfsReflinkRoot(Path file, Path mountPoint) {
    this.file = file;
    this.mountPoint = mountPoint;
  }

  /**
   * A {@code bytes}-long sparse file in {@code dir} (XFS needs at least 300 MiB), formatted and
   * mounted.
   */
  public static XfsReflinkRoot create(Path dir, long bytes) throws IOException {
    Path file = dir.resolve("xfs-reflink.file");
    Path mnt = Files.createDirectories(dir.resolve("xfs-reflink"));
    run("truncate", "-s", Long.toString(bytes), file.toString());
    run("mkfs.xfs", "-q", "-f", "-m", "reflink=1", file.toString());
    // The machine's eight loop devices are shared with other tests: wait a little for a free one.
    long deadline = System.nanoTime() + TimeUnit.SECONDS.toNanos(60);
    while (true) {
      String err = exec("mount", "-o", "loop", file.toString(), mnt.toString());
      if (err == null) return new XfsReflinkRoot(file, mnt);
      if (System.nanoTime() > deadline)
        throw new IOException("cannot mount the XFS images root: " + err);
      sleep();
    }
  }

  @Override
  public void close() throws IOException {
    if (exec("umount", mountPoint.toString()) != null)
      run("umount", "--lazy", mountPoint.toString());
    Files.deleteIfExists(file);
  }

  private static void run(String... cmd) throws IOException {
    String err = exec(cmd);
    if (err != null) throw new IOException(String.join(" ", cmd) + " failed: " + err);
  }

  /** null when the command succeeded, else its stderr. */
  private static String exec(String... cmd) throws IOException {
    Process p =
        new ProcessBuilder(List.of(cmd))
            .redirectInput(ProcessBuilder.Redirect.from(new File("/dev/null")))
            .redirectOutput(ProcessBuilder.Redirect.DISCARD)
            .start();
    String err = new String(p.getErrorStream().readAllBytes(), StandardCharsets.UTF_8);
    try {
      return p.waitFor() == 0 ? null : err.strip();
    } catch (InterruptedException e) {
      Thread.currentThread().interrupt();
      throw new IOException("interrupted", e);
    }
  }

  private static void sleep() throws IOException {
    try {
      Thread.sleep(500);
    } catch (InterruptedException e) {
      Thread.currentThread().interrupt();
      throw new IOException("interrupted", e);
    }
  }
}
