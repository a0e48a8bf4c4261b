package io.xenvbd.disk;

import static io.xenvbd.disk.DiskTestSupport.RUN;

import io.xenvbd.api.VirtualDiskSpec.Filesystem;
import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.FileVisitResult;
import java.nio.file.Files;
import java.nio.file.LinkOption;
import java.nio.file.Path;
import java.nio.file.SimpleFileVisitor;
import java.nio.file.attribute.BasicFileAttributes;
import java.time.Duration;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.concurrent.TimeUnit;
import java.util.function.Consumer;
import java.util.regex.Matcher;
import java.util.regex.Pattern;

/**
 * Hostile input made the way an attacker makes it, as root with the real tools: trees with device
 * nodes, FIFOs, symbolic and hard links packed by GNU tar, and content planted into a published
 * image the way a guest would have written it (debugfs -w for ext*, a mount for xfs). Also reads an
 * image's entries back without ever opening a special file, and unblocks a build stuck on a FIFO.
 */
final class HostileInputs {
  private HostileInputs() {}

  /**
   * One entry of an image, as lstat sees it: type, permission bits, content of a regular file,
   * device number.
   */
  record Entry(String type, int mode, String content, String device) {
    static final Entry MISSING = new Entry("missing", 0, null, null);
    static final Entry UNDER_SYMLINK = new Entry("under a symlink", 0, null, null);
  }

  static void mkdirs(Path dir) {
    try {
      Files.createDirectories(dir);
    } catch (IOException e) {
      throw new RuntimeException(e);
    }
  }

  static Path write(Path file, String content) {
    mkdirs(file.getParent());
    try {
      return Files.writeString(file, content);
    } catch (IOException e) {
      throw new RuntimeException(e);
    }
  }

  static void symlink(Path link, String target) {
    mkdirs(link.getParent());
    RUN.run("ln", "-s", target, link.toString());
  }

  static void hardlink(Path link, Path existing) {
    mkdirs(link.getParent());
    RUN.run("ln", existing.toString(), link.toString());
  }

  static void mkfifo(Path fifo) {
    mkdirs(fifo.getParent());
    RUN.run("mkfifo", "-m", "0644", fifo.toString());
  }

  /** mknod with {@code b|c major minor}. */
  static void mknod(Path node, List<String> typeMajorMinor) {
    mkdirs(node.getParent());
    List<String> cmd = new ArrayList<>(List.of("mknod", "-m", "0644", node.toString()));
    cmd.addAll(typeMajorMinor);
    RUN.run(cmd);
  }

  /**
   * GNU tar of {@code tree}'s top-level {@code names}, in that order, numeric owners, as an
   * attacker packs it.
   */
  static Path tar(Path tree, Path archive, String... names) {
    List<String> cmd =
        new ArrayList<>(
            List.of("tar", "--numeric-owner", "-cf", archive.toString(), "-C", tree.toString()));
    cmd.addAll(List.of(names));
    RUN.run(cmd);
    return archive;
  }

  /**
   * A link chain that stays inside the tree when read lexically but climbs out when the kernel
   * resolves it: {@code p -> .} in the root and in each of {@code depth} nested directories {@code
   * d}, and at the bottom {@code esc -> p/../p/../...(depth+1 times)/../..(depth times)/<target>}.
   * Each {@code p/..} counts as one level down and one up for a lexical check but is one level up
   * for the kernel, so the chain reaches dom0's {@code /} from any tree less than depth+1 deep,
   * then {@code target}. Returns the chain's end relative to the tree root ({@code d/d/.../esc}).
   */
  static String physicalEscape(Path tree, Path target, int depth) {
    symlink(tree.resolve("p"), ".");
    Path dir = tree;
    StringBuilder rel = new StringBuilder();
    for (int i = 0; i < depth; i++) {
      dir = dir.resolve("d");
      rel.append("d/");
      symlink(dir.resolve("p"), ".");
    }
    String climb = "p/../".repeat(depth + 1) + "../".repeat(depth) + target.toString().substring(1);
    symlink(dir.resolve("esc"), climb);
    return rel + "esc";
  }

  /**
   * Plants content into an ext* image file as a guest would have written it: debugfs -w commands.
   */
  static void plantExt(Path image, Path scratch, String... commands) {
    Path script =
        write(
            scratch.resolve("plant-" + System.nanoTime() + ".debugfs"),
            String.join("\n", commands) + "\n");
    CommandRunner.Result r =
        RUN.exec(
            List.of("debugfs", "-w", "-f", script.toString(), image.toString()),
            Duration.ofMinutes(1),
            null);
    if (!r.ok()) throw new IllegalStateException("debugfs failed: " + r.stderr());
  }

  /**
   * Plants content into any image through a loop mount (nodev, nosuid, noexec: the test never opens
   * it either).
   */
  static void plantMounted(Path image, Path scratch, Consumer<Path> work) {
    withMount(
        image,
        scratch,
        "loop,nodev,nosuid,noexec",
        mnt -> {
          work.accept(mnt);
          return null;
        });
  }

  /**
   * Entries of an image at guest paths, read with debugfs (ext*) or a read-only nodev,nosuid,noexec
   * mount (xfs).
   */
  static Map<String, Entry> entries(Path image, Filesystem fs, Path scratch, String... guestPaths) {
    Map<String, Entry> out = new LinkedHashMap<>();
    if (fs == Filesystem.xfs) {
      withMount(
          image,
          scratch,
          "ro,loop,nodev,nosuid,noexec",
          mnt -> {
            for (String g : guestPaths) out.put(g, lstatInside(mnt, g));
            return null;
          });
    } else {
      for (String g : guestPaths) out.put(g, debugfsStat(image, g));
    }
    return out;
  }

  static Entry entry(Path image, Filesystem fs, Path scratch, String guestPath) {
    return entries(image, fs, scratch, guestPath).get(guestPath);
  }

  private static final Pattern TYPE_MODE = Pattern.compile("Type: (.+?)\\s+Mode:\\s+(\\d+)");
  private static final Pattern DEVICE = Pattern.compile("Device major/minor number: (\\d+):(\\d+)");

  private static Entry debugfsStat(Path image, String guestPath) {
    CommandRunner.Result r =
        RUN.exec(
            List.of("debugfs", "-R", "stat " + guestPath, image.toString()),
            Duration.ofMinutes(1),
            null);
    Matcher m = TYPE_MODE.matcher(r.stdout());
    if (!m.find()) return Entry.MISSING;
    String type =
        switch (m.group(1)) {
          case "directory" -> "dir";
          case "block special" -> "block";
          case "character special" -> "char";
          case "FIFO" -> "fifo";
          default -> m.group(1); // regular, symlink, socket
        };
    int mode = Integer.parseInt(m.group(2), 8);
    Matcher d = DEVICE.matcher(r.stdout());
    String device =
        d.find() ? Integer.parseInt(d.group(1)) + ":" + Integer.parseInt(d.group(2)) : null;
    String content =
        type.equals("regular")
            ? RUN.run("debugfs", "-R", "cat " + guestPath, image.toString()).stdout()
            : null;
    return new Entry(type, mode, content, device);
  }

  /**
   * lstat of a guest path under a mount, never through a symlinked directory (which could lead into
   * dom0).
   */
  private static Entry lstatInside(Path mnt, String guestPath) {
    Path p = mnt;
    Path rel = Path.of(guestPath.substring(1));
    for (int i = 0; i < rel.getNameCount() - 1; i++) {
      p = p.resolve(rel.getName(i).toString());
      if (Files.isSymbolicLink(p)) return Entry.UNDER_SYMLINK;
    }
    return lstat(mnt.resolve(rel));
  }

  private static Entry lstat(Path p) {
    try {
      if (!Files.exists(p, LinkOption.NOFOLLOW_LINKS)) return Entry.MISSING;
      Map<String, Object> a = Files.readAttributes(p, "unix:mode,rdev", LinkOption.NOFOLLOW_LINKS);
      int mode = (Integer) a.get("mode");
      String type =
          switch (mode & 0170000) {
            case 0100000 -> "regular";
            case 0040000 -> "dir";
            case 0120000 -> "symlink";
            case 0060000 -> "block";
            case 0020000 -> "char";
            case 0010000 -> "fifo";
            case 0140000 -> "socket";
            default -> "unknown";
          };
      long rdev = (Long) a.get("rdev");
      String device =
          type.equals("block") || type.equals("char")
              ? (((rdev >> 8) & 0xfff) | ((rdev >> 32) & ~0xfffL))
                  + ":"
                  + ((rdev & 0xff) | ((rdev >> 12) & ~0xffL))
              : null;
      return new Entry(
          type,
          mode & 07777,
          type.equals("regular") ? new String(Files.readAllBytes(p), StandardCharsets.UTF_8) : null,
          device);
    } catch (IOException e) {
      throw new RuntimeException(e);
    }
  }

  private interface MountWork<T> {
    T apply(Path mnt);
  }

  private static <T> T withMount(Path image, Path scratch, String options, MountWork<T> work) {
    Path mnt = scratch.resolve("mnt-" + System.nanoTime());
    mkdirs(mnt);
    try {
      mountRetrying(image, mnt, options);
      try {
        return work.apply(mnt);
      } finally {
        RUN.exec(List.of("umount", mnt.toString()), Duration.ofMinutes(1), null);
        new LoopMounter(
                RUN,
                new ImagePaths(scratch, List.of()),
                new LoopDeviceTable(),
                new MountTable(),
                Duration.ZERO)
            .detach(image);
      }
    } finally {
      try {
        Files.deleteIfExists(mnt);
      } catch (IOException ignored) {
        // the @TempDir goes anyway
      }
    }
  }

  /** Loop devices are shared with other engineers' tests: a short wait for a free one. */
  private static void mountRetrying(Path image, Path mnt, String options) {
    long deadline = System.nanoTime() + Duration.ofSeconds(60).toNanos();
    while (true) {
      CommandRunner.Result r =
          RUN.exec(
              List.of("mount", "-o", options, image.toString(), mnt.toString()),
              Duration.ofMinutes(1),
              null);
      if (r.ok()) return;
      if (!r.stderr().contains("loop") || System.nanoTime() > deadline)
        throw CommandRunner.failure(r);
      Canaries.sleep(500);
    }
  }

  /**
   * Reads every FIFO under {@code dir} for a moment (cat, up to 5 s each, all at once): that
   * releases a writer blocked opening one, so a build that hung on a FIFO can finish and release
   * its mount and loop device. The reader ends when the writer closes, so it does not keep the
   * mount busy. Returns the FIFOs it read.
   */
  static List<Path> unblockFifos(Path dir) {
    List<Path> fifos = new ArrayList<>();
    if (!Files.exists(dir)) return fifos;
    try {
      Files.walkFileTree(
          dir,
          new SimpleFileVisitor<>() {
            @Override
            public FileVisitResult visitFile(Path file, BasicFileAttributes attrs) {
              if (attrs.isOther() && "fifo".equals(lstat(file).type())) fifos.add(file);
              return FileVisitResult.CONTINUE;
            }

            @Override
            public FileVisitResult visitFileFailed(Path file, IOException exc) {
              return FileVisitResult.CONTINUE;
            }
          });
    } catch (IOException e) {
      throw new RuntimeException(e);
    }
    List<Process> readers = new ArrayList<>();
    for (Path f : fifos) {
      try {
        readers.add(
            new ProcessBuilder("timeout", "5", "cat", f.toString())
                .redirectOutput(ProcessBuilder.Redirect.DISCARD)
                .redirectError(ProcessBuilder.Redirect.DISCARD)
                .start());
      } catch (IOException ignored) {
        // no reader for this one: the bound has failed the test already
      }
    }
    for (Process r : readers) {
      try {
        r.waitFor(10, TimeUnit.SECONDS);
      } catch (InterruptedException e) {
        Thread.currentThread().interrupt();
        break;
      }
    }
    return fifos;
  }
}
