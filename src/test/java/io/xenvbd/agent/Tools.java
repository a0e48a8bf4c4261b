package io.xenvbd.agent;

import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.TimeUnit;

/** Runs the real tools a user would use to check the agent's work (losetup, df, blkid, e2fsck, debugfs). */
final class Tools {
  private Tools() {}

  record Result(int exit, String out) {}

  static Result run(String... command) {
    try {
      Process p = new ProcessBuilder(command).redirectErrorStream(true).start();
      String out = new String(p.getInputStream().readAllBytes(), StandardCharsets.UTF_8);
      if (!p.waitFor(120, TimeUnit.SECONDS)) {
        p.destroyForcibly();
        throw new IllegalStateException(String.join(" ", command) + " timed out");
      }
      return new Result(p.exitValue(), out);
    } catch (IOException e) {
      throw new IllegalStateException("cannot run " + command[0] + ": " + e.getMessage(), e);
    } catch (InterruptedException e) {
      Thread.currentThread().interrupt();
      throw new IllegalStateException(e);
    }
  }

  static String ok(String... command) {
    Result r = run(command);
    if (r.exit() != 0) throw new IllegalStateException(String.join(" ", command) + " exited " + r.exit() + ": " + r.out());
    return r.out();
  }

  /** Loop devices attached now, as {@code losetup} lists them: device and backing file. */
  static List<String[]> attachedLoops() {
    List<String[]> loops = new ArrayList<>();
    for (String line : ok("losetup", "--list", "--noheadings", "--raw", "--output", "NAME,BACK-FILE").split("\n")) {
      if (line.isBlank()) continue;
      String[] parts = line.trim().split(" ", 2);
      loops.add(new String[] {parts[0], parts.length > 1 ? parts[1] : ""});
    }
    return loops;
  }

  /** Unmounts everything mounted under {@code dir} and detaches every loop device backed by a file under it. */
  static void releaseUnder(Path dir) {
    String prefix = dir.toAbsolutePath().toString();
    try {
      for (String line : Files.readAllLines(Path.of("/proc/mounts"))) {
        String target = line.split(" ")[1].replace("\\040", " ");
        if (target.startsWith(prefix)) run("umount", "-l", target);
      }
    } catch (IOException e) {
      throw new IllegalStateException(e);
    }
    for (String[] loop : attachedLoops()) {
      if (loop[1].startsWith(prefix)) run("losetup", "-d", loop[0]);
    }
  }

  /** Writes {@code count} files of {@code size} random bytes (random, so they really occupy space). */
  static long writeTree(Path dir, int count, int size) throws IOException {
    Files.createDirectories(dir);
    byte[] data = new byte[size];
    java.util.Random random = new java.util.Random(42);
    for (int i = 0; i < count; i++) {
      random.nextBytes(data);
      Files.write(dir.resolve("file-" + i + ".bin"), data);
    }
    return (long) count * size;
  }
}
