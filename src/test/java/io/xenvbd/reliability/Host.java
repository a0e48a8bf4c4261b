package io.xenvbd.reliability;

import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.TimeUnit;
import java.util.stream.Stream;

/**
 * What a dom0 admin would look at after a fault: loop devices and mounts that point into a
 * directory, temporary leftovers under an images root, and the real e2fsprogs on an image.
 */
final class Host {
  private Host() {}

  record Run(int exit, String out) {
    Run ok() {
      if (exit != 0) throw new AssertionError("exit " + exit + ": " + out);
      return this;
    }
  }

  /** Runs a command (argument list, never a shell string) with stdout and stderr merged. */
  static Run run(String... cmd) {
    try {
      Process p = new ProcessBuilder(cmd).redirectErrorStream(true).start();
      p.getOutputStream().close();
      String out = new String(p.getInputStream().readAllBytes(), StandardCharsets.UTF_8);
      if (!p.waitFor(5, TimeUnit.MINUTES)) {
        p.destroyForcibly();
        throw new AssertionError(String.join(" ", cmd) + " timed out");
      }
      return new Run(p.exitValue(), out);
    } catch (IOException e) {
      throw new AssertionError("cannot run " + cmd[0] + ": " + e.getMessage(), e);
    } catch (InterruptedException e) {
      Thread.currentThread().interrupt();
      throw new AssertionError(e);
    }
  }

  /** Loop devices whose backing file lies under {@code dir}, as "/dev/loopN -> file". */
  static List<String> loopsUnder(Path dir) {
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
  static List<String> mountsUnder(Path dir) {
    String prefix = real(dir);
    try {
      return Files.readAllLines(Path.of("/proc/self/mountinfo")).stream()
          .map(l -> l.split(" ")[4]).filter(m -> m.startsWith(prefix) && !m.equals(prefix)).toList();
    } catch (IOException e) {
      throw new AssertionError(e);
    }
  }

  /** Temporary names the engine uses (".x.img.tmp-..", ".tmp-staging-..") anywhere under the root. */
  static List<String> leftovers(Path root) {
    if (!Files.isDirectory(root)) return List.of();
    try (Stream<Path> walk = Files.walk(root)) {
      return walk.filter(p -> !p.equals(root)).map(p -> root.relativize(p).toString())
          .filter(rel -> Stream.of(rel.split("/")).anyMatch(part -> part.startsWith(".") && part.contains(".tmp")))
          .toList();
    } catch (IOException e) {
      throw new AssertionError(e);
    }
  }

  /** Every *.img file under the root, relative to it, sorted. */
  static List<String> images(Path root) {
    if (!Files.isDirectory(root)) return List.of();
    try (Stream<Path> walk = Files.walk(root)) {
      return walk.filter(Files::isRegularFile).map(p -> root.relativize(p).toString())
          .filter(rel -> rel.endsWith(".img") && !rel.contains("/.")).sorted().toList();
    } catch (IOException e) {
      throw new AssertionError(e);
    }
  }

  /** {@code e2fsck -fn}: read-only, forced; the output when it is not clean. */
  static void assertFsckClean(Path image) {
    Run r = run("e2fsck", "-fn", image.toString());
    if (r.exit() != 0) throw new AssertionError("e2fsck -fn " + image + " is not clean (" + r.exit() + "):\n" + r.out());
  }

  /** A file's content inside an image, without mounting it (debugfs's banner on stderr is dropped). */
  static String cat(Path image, String guestPath) {
    try {
      Process p = new ProcessBuilder("debugfs", "-R", "cat " + guestPath, image.toString())
          .redirectError(ProcessBuilder.Redirect.DISCARD).start();
      String out = new String(p.getInputStream().readAllBytes(), StandardCharsets.UTF_8);
      if (p.waitFor() != 0) throw new AssertionError("debugfs cat " + guestPath + " failed on " + image);
      return out;
    } catch (IOException e) {
      throw new AssertionError(e);
    } catch (InterruptedException e) {
      Thread.currentThread().interrupt();
      throw new AssertionError(e);
    }
  }

  /** Frees every loop device backing a file under {@code dir} (cleanup after a failed test). */
  static void releaseAll(Path dir) {
    List<String> mounts = new ArrayList<>(mountsUnder(dir));
    java.util.Collections.reverse(mounts);
    for (String m : mounts) run("umount", "-l", m);
    for (String l : loopsUnder(dir)) run("losetup", "-d", l.substring(0, l.indexOf(' ')));
  }

  static String real(Path p) {
    try {
      return p.toRealPath().toString();
    } catch (IOException e) {
      return p.toAbsolutePath().normalize().toString();
    }
  }
}
