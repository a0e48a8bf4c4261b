package io.xenvbd.disk;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;

/** Reads /proc/self/mountinfo: which mount points and mount sources exist. */
public final class MountTable {
  public record Mount(String source, Path mountPoint) {}

  private final Path mountinfo;

  public MountTable() {
    this(Path.of("/proc/self/mountinfo"));
  }

  MountTable(Path mountinfo) {
    this.mountinfo = mountinfo;
  }

  public List<Mount> mounts() {
    List<Mount> list = new ArrayList<>();
    List<String> lines;
    try {
      lines = Files.readAllLines(mountinfo);
    } catch (IOException e) {
      return List.of();
    }
    for (String line : lines) {
      // "36 35 98:0 /mnt1 /mnt2 rw,noatime master:1 - ext3 /dev/root rw,errors=continue"
      String[] f = line.split(" ");
      int dash = Arrays.asList(f).indexOf("-");
      if (f.length < 5 || dash < 0 || dash + 2 >= f.length) continue;
      list.add(new Mount(unescape(f[dash + 2]), Path.of(unescape(f[4]))));
    }
    return list;
  }

  /** Mount points at or under {@code dir}, deepest first (the order to unmount them). */
  public List<Path> mountPointsUnder(Path dir) {
    Path d = dir.toAbsolutePath().normalize();
    return mounts().stream()
        .map(Mount::mountPoint)
        .filter(m -> m.startsWith(d))
        .sorted((a, b) -> b.getNameCount() - a.getNameCount())
        .toList();
  }

  /**
   * True when {@code file} is itself mounted (as a loop-mounted image names its file as source).
   */
  public boolean isSourceMounted(Path file) {
    String f = file.toAbsolutePath().normalize().toString();
    return mounts().stream().anyMatch(m -> m.source().equals(f));
  }

  /** mountinfo escapes space, tab, newline and backslash as \ooo octal. */
  static String unescape(String s) {
    if (s.indexOf('\\') < 0) return s;
    StringBuilder b = new StringBuilder();
    for (int i = 0; i < s.length(); i++) {
      char c = s.charAt(i);
      if (c == '\\' && i + 3 < s.length()) {
        try {
          b.append((char) Integer.parseInt(s.substring(i + 1, i + 4), 8));
          i += 3;
          continue;
        } catch (NumberFormatException | StringIndexOutOfBoundsException ignored) {
          // not an escape: keep the backslash
        }
      }
      b.append(c);
    }
    return b.toString();
  }
}
