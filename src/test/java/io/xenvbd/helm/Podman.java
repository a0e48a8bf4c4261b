package io.xenvbd.helm;

import io.xenvbd.testing.RootCondition;
import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.Assumptions;

/**
 * Debian's podman with this repository's containers.conf (see container/containers.conf), and the
 * image container/build-image.sh builds from the project's Dockerfile.
 */
final class Podman {
  static final Path CONF = Path.of("container/containers.conf").toAbsolutePath();
  static final Path BUILD_SCRIPT = Path.of("container/build-image.sh").toAbsolutePath();

  /**
   * Debian packages (each named like its command) the image tests need; podman builds with
   * buildah's library.
   */
  static final List<String> PACKAGES = List.of("podman", "runc", "debootstrap");

  private Podman() {}

  record Result(List<String> command, int exit, String out) {
    Result ok() {
      if (exit != 0)
        throw new AssertionError(String.join(" ", command) + " failed (" + exit + "):\n" + out);
      return this;
    }
  }

  /**
   * Skips the calling test class when podman or debootstrap is missing, or fails it under
   * -Dxenvbd.requireRoot=true (CI), where a missing tool must not pass as a skip.
   */
  static void requireInstalled() {
    List<String> missing = PACKAGES.stream().filter(p -> !onPath(p)).toList();
    if (missing.isEmpty()) return;
    String why =
        "the container image tests need the Debian packages "
            + String.join(" ", PACKAGES)
            + "; missing: "
            + String.join(" ", missing)
            + " (apt-get install "
            + String.join(" ", missing)
            + ")";
    if (RootCondition.rootRequired())
      throw new IllegalStateException(why + ", and -Dxenvbd.requireRoot=true forbids skipping");
    Assumptions.abort(why);
  }

  private static boolean onPath(String tool) {
    for (String dir : System.getenv().getOrDefault("PATH", "/usr/bin:/bin").split(":")) {
      if (Files.isExecutable(Path.of(dir, tool))) return true;
    }
    return Files.isExecutable(Path.of("/usr/sbin", tool));
  }

  /** Builds {@code tag} with container/build-image.sh (the base image is reused when it exists). */
  static Result buildImage(String tag) {
    return run(List.of(BUILD_SCRIPT.toString(), "--tag", tag), 30 * 60);
  }

  static Result podman(long timeoutSeconds, String... args) {
    List<String> cmd = new ArrayList<>(List.of("podman"));
    cmd.addAll(List.of(args));
    return run(cmd, timeoutSeconds);
  }

  static Result run(List<String> cmd, long timeoutSeconds) {
    try {
      Path log = Files.createTempFile("xenvbd-podman", ".log");
      try {
        ProcessBuilder pb =
            new ProcessBuilder(cmd).redirectErrorStream(true).redirectOutput(log.toFile());
        pb.environment().put("CONTAINERS_CONF", CONF.toString());
        Process p = pb.start();
        if (!p.waitFor(timeoutSeconds, TimeUnit.SECONDS)) {
          p.destroyForcibly().waitFor();
          throw new AssertionError(
              String.join(" ", cmd)
                  + " did not finish in "
                  + timeoutSeconds
                  + " s:\n"
                  + Files.readString(log));
        }
        return new Result(cmd, p.exitValue(), Files.readString(log, StandardCharsets.UTF_8));
      } finally {
        Files.deleteIfExists(log);
      }
    } catch (IOException e) {
      throw new AssertionError("cannot run " + cmd + ": " + e.getMessage(), e);
    } catch (InterruptedException e) {
      Thread.currentThread().interrupt();
      throw new AssertionError(e);
    }
  }
}
