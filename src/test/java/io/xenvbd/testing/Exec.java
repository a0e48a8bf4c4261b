package io.xenvbd.testing;

import java.io.IOException;
import java.io.InputStream;
import java.io.UncheckedIOException;
import java.nio.charset.StandardCharsets;
import java.time.Duration;
import java.util.List;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.TimeUnit;

/**
 * The tests' one runner of a command that finishes: an argument list (never a shell string),
 * optional standard input, a timeout, and stdout and stderr read concurrently so neither can fill
 * its pipe and stall the other. Long-running processes (agents, operators, {@code kubectl get -w})
 * are started by the classes that own their lifecycle.
 */
public final class Exec {
  /** Five minutes: longer than any disk tool a test runs on its small images. */
  public static final Duration DEFAULT_TIMEOUT = Duration.ofMinutes(5);

  private Exec() {}

  /** What the command did: exit code, both streams, and its wall time. */
  public record Result(List<String> command, int exit, String out, String err, Duration took) {
    /** Wall time in seconds, for benchmarks. */
    public double seconds() {
      return took.toNanos() / 1e9;
    }

    /** stdout followed by stderr, for checks that do not care which stream a message went to. */
    public String all() {
      return out + err;
    }

    /** This result, or an AssertionError with the command, its exit code and both streams. */
    public Result ok() {
      if (exit != 0) {
        throw new AssertionError(
            String.join(" ", command) + " exited " + exit + ": " + err.strip() + " " + out.strip());
      }
      return this;
    }
  }

  /** Runs {@code cmd} with no input and the default timeout. */
  public static Result run(String... cmd) {
    return run(List.of(cmd), null, DEFAULT_TIMEOUT);
  }

  /** Runs {@code cmd} with no input and the default timeout. */
  public static Result run(List<String> cmd) {
    return run(cmd, null, DEFAULT_TIMEOUT);
  }

  /** Runs {@code cmd} and returns its stdout, failing the test when it exits non-zero. */
  public static String ok(String... cmd) {
    return run(cmd).ok().out();
  }

  /**
   * Runs {@code cmd}, feeding {@code stdin} (or nothing) to it; a command still running after
   * {@code timeout} is killed and fails the test.
   */
  public static Result run(List<String> cmd, String stdin, Duration timeout) {
    long t0 = System.nanoTime();
    Process p;
    try {
      p = new ProcessBuilder(cmd).start();
    } catch (IOException e) {
      throw new UncheckedIOException("cannot run " + cmd.get(0) + ": " + e.getMessage(), e);
    }
    CompletableFuture<String> out = CompletableFuture.supplyAsync(() -> read(p.getInputStream()));
    CompletableFuture<String> err = CompletableFuture.supplyAsync(() -> read(p.getErrorStream()));
    try (var in = p.getOutputStream()) {
      if (stdin != null) in.write(stdin.getBytes(StandardCharsets.UTF_8));
    } catch (IOException e) {
      // the command exited before reading its input: its exit code and stderr say why
    }
    try {
      if (!p.waitFor(timeout.toMillis(), TimeUnit.MILLISECONDS)) {
        p.destroyForcibly();
        throw new AssertionError(
            String.join(" ", cmd) + " did not finish in " + timeout.toSeconds() + " s");
      }
    } catch (InterruptedException e) {
      p.destroyForcibly();
      Thread.currentThread().interrupt();
      throw new AssertionError("interrupted while running " + cmd.get(0), e);
    }
    Duration took = Duration.ofNanos(System.nanoTime() - t0);
    return new Result(List.copyOf(cmd), p.exitValue(), out.join(), err.join(), took);
  }

  private static String read(InputStream in) {
    try (in) {
      return new String(in.readAllBytes(), StandardCharsets.UTF_8);
    } catch (IOException e) {
      return "";
    }
  }
}
