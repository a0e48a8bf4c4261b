package io.xenvbd.boot;

import io.xenvbd.api.VirtualDiskSpec.Filesystem;
import io.xenvbd.testing.Exec;
import java.io.ByteArrayOutputStream;
import java.nio.charset.StandardCharsets;
import java.nio.file.Path;
import java.time.Duration;
import java.util.List;
import java.util.regex.Matcher;
import java.util.regex.Pattern;

/**
 * Reads and checks an image with the filesystem's own tools, without a mount or a loop device:
 * {@code debugfs} and {@code e2fsck -fn} for ext2/3/4, {@code xfs_db -r} and {@code xfs_repair -n}
 * for xfs (xfs_db has no "cat": the file's first block is printed as hex and cut to its size).
 */
final class ImageFiles {
  private static final Pattern SIZE = Pattern.compile("(?m)^core\\.size = (\\d+)$");
  private static final Pattern HEX_LINE =
      Pattern.compile("(?m)^[0-9a-f]+: +((?:[0-9a-f]{2} ?){1,16})");

  private ImageFiles() {}

  /** The content of {@code path} in the image; null when there is no such file. */
  static String read(Path image, Filesystem fs, String path) {
    if (fs == Filesystem.xfs) return readXfs(image, path);
    var r =
        Exec.run(
            List.of("debugfs", "-R", "cat " + path, image.toString()), null, Duration.ofMinutes(1));
    return r.exit() == 0 && !r.err().contains("File not found") ? r.out() : null;
  }

  private static String readXfs(Path image, String path) {
    var r =
        Exec.run(
            List.of(
                "xfs_db",
                "-r",
                "-c",
                "path " + path,
                "-c",
                "print core.size",
                "-c",
                "dblock 0",
                "-c",
                "type text",
                "-c",
                "print",
                image.toString()),
            null,
            Duration.ofMinutes(1));
    Matcher size = SIZE.matcher(r.out());
    if (r.exit() != 0 || !size.find()) return null;
    int length = Integer.parseInt(size.group(1));
    if (length > 4096)
      throw new IllegalArgumentException(path + " is longer than the one block read here");
    ByteArrayOutputStream bytes = new ByteArrayOutputStream();
    Matcher line = HEX_LINE.matcher(r.out());
    while (line.find() && bytes.size() < length) {
      for (String hex : line.group(1).strip().split(" +")) {
        if (bytes.size() < length) bytes.write(Integer.parseInt(hex, 16));
      }
    }
    return bytes.toString(StandardCharsets.UTF_8);
  }

  /** The read-only check's output when the filesystem is not clean; null when it is. */
  static String problems(Path image, Filesystem fs) {
    List<String> command =
        fs == Filesystem.xfs
            ? List.of("xfs_repair", "-n", image.toString())
            : List.of("e2fsck", "-fn", image.toString());
    var r = Exec.run(command, null, Duration.ofMinutes(5));
    return r.exit() == 0
        ? null
        : String.join(" ", command) + " exited " + r.exit() + ":\n" + r.out() + r.err();
  }
}
