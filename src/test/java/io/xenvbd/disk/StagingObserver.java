package io.xenvbd.disk;

import static io.xenvbd.disk.DiskTestSupport.RUN;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.LinkOption;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.stream.Stream;

/**
 * A progress listener that looks at the images root while a build runs (the listener is called on
 * the building thread, so the staging tree or mount is there): every temporary directory under the
 * root with its owner and mode, every mount under the root with its options, and whether an
 * unprivileged user (uid 65534) can reach a file of the tree that is being built.
 */
final class StagingObserver implements ProgressListener {
  record TempDir(Path path, int uid, int mode) {}

  private final Path root;
  private final String fileName;
  final Map<Path, TempDir> tempDirs = new LinkedHashMap<>();
  final Map<Path, String> mountOptions = new LinkedHashMap<>();

  /**
   * Each tree file named {@code fileName} that root saw mid-build, and what the unprivileged stat
   * of it said.
   */
  final Map<Path, String> reachableByNobody = new HashMap<>();

  StagingObserver(Path root, String fileName) {
    this.root = root;
    this.fileName = fileName;
  }

  @Override
  public synchronized void onProgress(String stage, long bytesDone, long bytesTotal, int percent) {
    try {
      look();
    } catch (IOException | RuntimeException e) {
      // The build goes on; a missed look shows up as nothing observed.
    }
  }

  private void look() throws IOException {
    mountOptions.putAll(mountsUnder(root));
    if (!Files.isDirectory(root)) return;
    List<Path> temps;
    try (Stream<Path> s = Files.list(root)) {
      temps = s.filter(p -> p.getFileName().toString().startsWith(".")).toList();
    }
    for (Path t : temps) {
      if (!Files.isDirectory(t, LinkOption.NOFOLLOW_LINKS)) continue;
      Map<String, Object> a = Files.readAttributes(t, "unix:uid,mode", LinkOption.NOFOLLOW_LINKS);
      boolean mountPoint = mountOptions.containsKey(t);
      // A mount point shows the mounted filesystem's root, whose mode is the guest's: only its
      // options count.
      if (!mountPoint)
        tempDirs.putIfAbsent(
            t, new TempDir(t, (Integer) a.get("uid"), (Integer) a.get("mode") & 07777));
      try (Stream<Path> w = Files.walk(t, 8)) {
        for (Path f : w.filter(p -> p.getFileName().toString().equals(fileName)).toList()) {
          reachableByNobody.computeIfAbsent(f, StagingObserver::statAsNobody);
        }
      }
    }
  }

  /** "denied" when uid 65534 cannot even stat the file, else what stat showed it. */
  static String statAsNobody(Path file) {
    CommandRunner.Result r =
        RUN.exec(
            List.of(
                "setpriv",
                "--reuid=65534",
                "--regid=65534",
                "--clear-groups",
                "--",
                "stat",
                "-c",
                "%A %U",
                file.toString()),
            Duration.ofMinutes(1),
            null);
    return r.ok() ? "reachable: " + r.stdout().strip() : "denied";
  }

  /**
   * Mount points at or under {@code dir} with their per-mount options (mountinfo's sixth field).
   */
  static Map<Path, String> mountsUnder(Path dir) {
    Map<Path, String> out = new LinkedHashMap<>();
    List<String> lines;
    try {
      lines = Files.readAllLines(Path.of("/proc/self/mountinfo"));
    } catch (IOException e) {
      return out;
    }
    for (String line : lines) {
      String[] f = line.split(" ");
      if (f.length < 6) continue;
      Path mp = Path.of(MountTable.unescape(f[4]));
      if (mp.startsWith(dir)) out.put(mp, f[5]);
    }
    return out;
  }

  static List<String> missingOptions(String options, String... required) {
    List<String> have = List.of(options.split(","));
    List<String> missing = new ArrayList<>();
    for (String r : required) if (!have.contains(r)) missing.add(r);
    return missing;
  }
}
