package io.xenvbd.reliability;

import io.xenvbd.testing.Exec;
import java.io.IOException;
import java.io.UncheckedIOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.security.MessageDigest;
import java.util.HexFormat;
import java.util.Random;

/**
 * A dom0 directory to copy from (hostPaths) and tar archives to unpack, with content worth
 * checking.
 */
final class SourceTree {
  private SourceTree() {}

  /**
   * {@code count} files of {@code size} pseudo-random bytes under data/, an etc/issue and a
   * relative symlink.
   */
  static Path make(Path dir, int count, int size) {
    try {
      Files.createDirectories(dir.resolve("etc"));
      Files.createDirectories(dir.resolve("data"));
      Files.writeString(dir.resolve("etc/issue"), "built by xenvbd from a dom0 tree\n");
      Random random = new Random(42);
      byte[] buf = new byte[size];
      for (int i = 0; i < count; i++) {
        random.nextBytes(buf);
        Files.write(dir.resolve("data/blob-" + i), buf);
      }
      Files.createSymbolicLink(dir.resolve("issue-link"), Path.of("etc/issue"));
      return dir;
    } catch (IOException e) {
      throw new UncheckedIOException(e);
    }
  }

  /** A tar of {@code dir}'s content (GNU tar, relative names). */
  static Path tar(Path dir, Path archive) {
    Exec.run("tar", "-C", dir.toString(), "-cf", archive.toString(), ".").ok();
    return archive;
  }

  static String sha256(Path file) {
    try {
      return HexFormat.of()
          .formatHex(MessageDigest.getInstance("SHA-256").digest(Files.readAllBytes(file)));
    } catch (Exception e) {
      throw new IllegalStateException(e);
    }
  }

  /** The bytes of {@code guestPath} in an ext image (debugfs dump, no mount). */
  static byte[] dump(Path image, String guestPath, Path scratch) {
    try {
      Path out = Files.createTempFile(scratch, "dump", ".bin");
      Files.delete(out);
      Exec.run("debugfs", "-R", "dump " + guestPath + " " + out, image.toString()).ok();
      byte[] bytes = Files.readAllBytes(out);
      Files.delete(out);
      return bytes;
    } catch (IOException e) {
      throw new UncheckedIOException(e);
    }
  }
}
