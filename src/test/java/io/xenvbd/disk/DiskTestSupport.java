package io.xenvbd.disk;

import static org.assertj.core.api.Assertions.assertThat;

import io.xenvbd.api.Populate;
import io.xenvbd.api.Tailor;
import io.xenvbd.api.VirtualDiskSpec;
import io.xenvbd.api.Xen;
import java.io.IOException;
import java.io.InputStream;
import java.nio.ByteBuffer;
import java.nio.file.Files;
import java.nio.file.LinkOption;
import java.nio.file.Path;
import java.nio.file.attribute.UserDefinedFileAttributeView;
import java.security.MessageDigest;
import java.time.Duration;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.HexFormat;
import java.util.List;
import java.util.Map;
import java.util.TreeMap;
import java.util.function.Function;
import java.util.stream.Stream;

/**
 * Shared helpers of the disk tests: engines on temp roots, specs, reading an image's tree, leak
 * checks.
 */
final class DiskTestSupport {
  static final CommandRunner RUN = new CommandRunner(Duration.ofMinutes(5));

  private DiskTestSupport() {}

  static DiskEngine engine(Path root, Path... allowed) {
    return new DiskEngine(
        new EngineConfig(root, List.of(allowed), Duration.ofSeconds(2), Duration.ofMinutes(5)));
  }

  /** An engine that may fetch archive URLs as {@code urls} allows. */
  static DiskEngine engine(Path root, UrlPolicy urls) {
    return new DiskEngine(
        new EngineConfig(root, List.of(), Duration.ofSeconds(2), Duration.ofMinutes(5), urls));
  }

  static VirtualDiskSpec spec(
      String size, VirtualDiskSpec.Filesystem fs, Populate populate, Tailor tailor) {
    return new VirtualDiskSpec(null, size, fs, populate, tailor, null, false, null);
  }

  static VirtualDiskSpec spec(String size, VirtualDiskSpec.Filesystem fs) {
    return spec(size, fs, null, null);
  }

  static VirtualDiskSpec preallocated(String size, VirtualDiskSpec.Filesystem fs) {
    return new VirtualDiskSpec(null, size, fs, null, null, new Xen(null, null, null), true, null);
  }

  static DiskRequest request(String name, VirtualDiskSpec spec) {
    return DiskRequest.of("default", name, "uid-" + name, spec);
  }

  static long allocated(Path file) {
    String[] f = RUN.run("stat", "-c", "%b %B", file.toString()).stdout().strip().split(" ");
    return Long.parseLong(f[0]) * Long.parseLong(f[1]);
  }

  /** Loop-mounts the image read-only, passes the mount point, always unmounts and detaches. */
  static <T> T readMounted(Path image, Path scratch, Function<Path, T> reader) {
    Path mnt = scratch.resolve("ro-" + System.nanoTime());
    try {
      Files.createDirectories(mnt);
      RUN.run("mount", "-o", "ro,loop", image.toString(), mnt.toString());
      try {
        return reader.apply(mnt);
      } finally {
        RUN.exec(List.of("umount", mnt.toString()), Duration.ofMinutes(1), null);
        new LoopMounter(
                RUN,
                new ImagePaths(scratch, List.of()),
                new LoopDeviceTable(),
                new MountTable(),
                Duration.ZERO)
            .detach(image);
        Files.deleteIfExists(mnt);
      }
    } catch (IOException e) {
      throw new RuntimeException(e);
    }
  }

  /**
   * Every entry of a tree described by what a user compares: type, owner, mode, size, link target,
   * device number, xattrs, content hash, and which names are hard links of each other.
   */
  static Map<String, String> describe(Path tree) {
    Map<String, String> out = new TreeMap<>();
    Map<Object, String> firstByInode = new HashMap<>();
    try (Stream<Path> walk = Files.walk(tree)) {
      for (Path p : walk.sorted().toList()) {
        String rel = "/" + tree.relativize(p);
        Map<String, Object> a = Files.readAttributes(p, "unix:*", LinkOption.NOFOLLOW_LINKS);
        int mode = (Integer) a.get("mode");
        StringBuilder d = new StringBuilder();
        d.append(type(p))
            .append(" uid=")
            .append(a.get("uid"))
            .append(" gid=")
            .append(a.get("gid"))
            .append(" mode=")
            .append(Integer.toOctalString(mode & 07777));
        if (Files.isSymbolicLink(p)) {
          d.append(" -> ").append(Files.readSymbolicLink(p));
        } else if (Files.isRegularFile(p, LinkOption.NOFOLLOW_LINKS)) {
          d.append(" size=").append(a.get("size")).append(" sha256=").append(sha256(p));
          d.append(" nlink=").append(a.get("nlink"));
          String first = firstByInode.putIfAbsent(a.get("ino"), rel);
          if (first != null) d.append(" hardlink-of=").append(first);
        } else if (!Files.isDirectory(p, LinkOption.NOFOLLOW_LINKS)) {
          d.append(" rdev=").append(a.get("rdev"));
        }
        // Opening a FIFO or device to read its xattrs would block or touch the device: files and
        // dirs only.
        if (Files.isRegularFile(p, LinkOption.NOFOLLOW_LINKS)
            || Files.isDirectory(p, LinkOption.NOFOLLOW_LINKS)) {
          d.append(" xattrs=").append(xattrs(p));
        }
        out.put(rel.equals("/") ? "/" : rel, d.toString());
      }
    } catch (IOException e) {
      throw new RuntimeException(e);
    }
    return out;
  }

  private static String type(Path p) throws IOException {
    if (Files.isSymbolicLink(p)) return "symlink";
    if (Files.isDirectory(p, LinkOption.NOFOLLOW_LINKS)) return "dir";
    if (Files.isRegularFile(p, LinkOption.NOFOLLOW_LINKS)) return "file";
    String t = RUN.run("stat", "-c", "%F", p.toString()).stdout().strip();
    return t.replace(' ', '-');
  }

  private static String xattrs(Path p) throws IOException {
    UserDefinedFileAttributeView v =
        Files.getFileAttributeView(p, UserDefinedFileAttributeView.class);
    if (v == null) return "{}";
    Map<String, String> m = new TreeMap<>();
    for (String name : v.list()) {
      ByteBuffer b = ByteBuffer.allocate(v.size(name));
      v.read(name, b);
      m.put(name, new String(b.array(), 0, b.position()));
    }
    return m.toString();
  }

  static String sha256(Path p) {
    try (InputStream in = Files.newInputStream(p)) {
      MessageDigest md = MessageDigest.getInstance("SHA-256");
      byte[] buf = new byte[1 << 16];
      int n;
      while ((n = in.read(buf)) > 0) md.update(buf, 0, n);
      return HexFormat.of().formatHex(md.digest());
    } catch (Exception e) {
      throw new RuntimeException(e);
    }
  }

  /** No loop device backed by a file under {@code dir}, and no mount at or under it. */
  static void assertNothingAttachedUnder(Path dir) {
    Path d = dir.toAbsolutePath().normalize();
    List<String> loops = new ArrayList<>();
    new LoopDeviceTable()
        .inUse()
        .forEach(
            dev -> {
              if (LoopDeviceTable.backingPath(dev).startsWith(d))
                loops.add(dev.name() + "=" + dev.backingFile());
            });
    assertThat(loops).as("loop devices still attached to files under " + d).isEmpty();
    assertThat(new MountTable().mountPointsUnder(d)).as("mounts left under " + d).isEmpty();
  }

  /**
   * Everything under the root except published images and their metadata: must be empty after a
   * failure.
   */
  static List<String> nonImageEntries(Path root) {
    if (!Files.exists(root)) return List.of();
    try (Stream<Path> walk = Files.walk(root)) {
      return walk.filter(p -> !p.equals(root))
          .filter(
              p ->
                  !(Files.isDirectory(p)
                      && p.getParent().equals(root)
                      && !p.getFileName().toString().startsWith(".")))
          .map(p -> root.relativize(p).toString())
          .filter(s -> !s.endsWith(".img") && !s.endsWith(".img.json") && !s.equals(FileLocks.FILE))
          .toList();
    } catch (IOException e) {
      throw new RuntimeException(e);
    }
  }
}
