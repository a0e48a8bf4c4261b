package io.xenvbd.testing;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Collections;
import java.util.List;
import java.util.Random;
import java.util.stream.Stream;

/**
 * What a dom0 admin would look at after a fault: loop devices and mounts that point into a
 * directory, temporary leftovers under an images root, and the real e2fsprogs on an image.
 */
public final class Host {
  private Host() {}

  /** Loop devices whose backing file lies under {@code dir}, as "/dev/loopN -> file". */
  public static List<String> loopsUnder(Path dir) {
    String prefix = real(dir);
    List<String> found = new ArrayList<>();
    try (Stream<Path> devs = Files.list(Path.of("/sys/block"))) {
      for (Path dev : devs.filter(p -> p.getFileName().toString().startsWith("loop")).toList()) {
        Path backing = dev.resolve("loop/backing_file");
        if (!Files.exists(backing)) continue;
        String file = Files.readString(backing).strip();
        if (file.startsWith(prefix)) found.add("/dev/" + dev.getFileName() + " -> " + file);
      }
    } catch (IOException e) {
      throw new AssertionError("cannot read /sys/block: " + e.getMessage(), e);
    }
    return found;
  }

  /** Mount points under {@code dir} (from /proc/self/mountinfo). */
  public static List<String> mountsUnder(Path dir) {
    String prefix = real(dir);
    try {
      return Files.readAllLines(Path.of("/proc/self/mountinfo")).stream()
          .map(l -> l.split(" ")[4])
          .filter(m -> m.startsWith(prefix) && !m.equals(prefix))
          .toList();
    } catch (IOException e) {
      throw new AssertionError(e);
    }
  }

  /**
   * Temporary names the engine uses (".x.img.tmp-..", ".tmp-staging-..") anywhere under the root.
   */
  public static List<String> leftovers(Path root) {
    if (!Files.isDirectory(root)) return List.of();
    try (Stream<Path> walk = Files.walk(root)) {
      return walk.filter(p -> !p.equals(root))
          .map(p -> root.relativize(p).toString())
          .filter(
              rel ->
                  Stream.of(rel.split("/"))
                      .anyMatch(part -> part.startsWith(".") && part.contains(".tmp")))
          .toList();
    } catch (IOException e) {
      throw new AssertionError(e);
    }
  }

  /** Every *.img file under the root, relative to it, sorted. */
  public static List<String> images(Path root) {
    if (!Files.isDirectory(root)) return List.of();
    try (Stream<Path> walk = Files.walk(root)) {
      return walk.filter(Files::isRegularFile)
          .map(p -> root.relativize(p).toString())
          .filter(rel -> rel.endsWith(".img") && !rel.contains("/."))
          .sorted()
          .toList();
    } catch (IOException e) {
      throw new AssertionError(e);
    }
  }

  /** {@code e2fsck -fn}: read-only, forced; the output when it is not clean. */
  public static void assertFsckClean(Path image) {
    Exec.Result r = Exec.run("e2fsck", "-fn", image.toString());
    if (r.exit() != 0)
      throw new AssertionError(
          "e2fsck -fn " + image + " is not clean (" + r.exit() + "):\n" + r.all());
  }

  /**
   * A file's content inside an image, without mounting it (debugfs's banner on stderr is dropped).
   */
  public static String cat(Path image, String guestPath) {
    Exec.Result r = Exec.run("debugfs", "-R", "cat " + guestPath, image.toString());
    if (r.exit() != 0)
      throw new AssertionError("debugfs cat " + guestPath + " failed on " + image + ": " + r.err());
    return r.out();
  }

  /** Frees every loop device backing a file under {@code dir} (cleanup after a failed test). */
  public static void releaseAll(Path dir) {
    List<String> mounts = new ArrayList<>(mountsUnder(dir));
    Collections.reverse(mounts);
    for (String m : mounts) Exec.run("umount", "-l", m);
    for (String l : loopsUnder(dir)) Exec.run("losetup", "-d", l.substring(0, l.indexOf(' ')));
  }

  /** Loop devices attached now, as {@code losetup} lists them: device and backing file. */
  public static List<String[]> attachedLoops() {
    List<String[]> loops = new ArrayList<>();
    String listing =
        Exec.ok("losetup", "--list", "--noheadings", "--raw", "--output", "NAME,BACK-FILE");
    for (String line : listing.split("\n")) {
      if (line.isBlank()) continue;
      String[] parts = line.trim().split(" ", 2);
      loops.add(new String[] {parts[0], parts.length > 1 ? parts[1] : ""});
    }
    return loops;
  }

  /**
   * Writes {@code count} files of {@code size} random bytes (random, so they really occupy space).
   */
  public static long writeTree(Path dir, int count, int size) throws IOException {
    Files.createDirectories(dir);
    byte[] data = new byte[size];
    Random random = new Random(42);
    for (int i = 0; i < count; i++) {
      random.nextBytes(data);
      Files.write(dir.resolve("file-" + i + ".bin"), data);
    }
    return (long) count * size;
  }

  public static String real(Path p) {
    try {
      return p.toRealPath().toString();
    } catch (IOException e) {
      return p.toAbsolutePath().normalize().toString();
    }
  }
}
