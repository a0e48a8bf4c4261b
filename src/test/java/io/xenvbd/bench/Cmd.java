package io.xenvbd.bench;

import java.io.IOException;
import java.io.UncheckedIOException;
import java.nio.charset.StandardCharsets;
import java.util.List;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.TimeUnit;

/** The benchmarks' one command runner: argument lists, never a shell string; wall time measured around it. */
final class Cmd {
  record Result(int exit, String stdout, String stderr, double seconds) {
    Result orThrow(List<String> cmd) {
      if (exit != 0) {
        throw new IllegalStateException(String.join(" ", cmd) + " exited " + exit + ": " + stderr.strip() + " " + stdout.strip());
      }
      return this;
    }
  }

  private Cmd() {}

  static Result exec(List<String> cmd) {
    long t0 = System.nanoTime();
    try {
      Process p = new ProcessBuilder(cmd).start();
      p.getOutputStream().close();
      CompletableFuture<String> out = CompletableFuture.supplyAsync(() -> read(p.getInputStream()));
      CompletableFuture<String> err = CompletableFuture.supplyAsync(() -> read(p.getErrorStream()));
      if (!p.waitFor(30, TimeUnit.MINUTES)) {
        p.destroyForcibly();
        throw new IllegalStateException(String.join(" ", cmd) + " did not finish in 30 minutes");
      }
      double s = (System.nanoTime() - t0) / 1e9;
      return new Result(p.exitValue(), out.join(), err.join(), s);
    } catch (IOException e) {
      throw new UncheckedIOException("cannot run " + cmd.get(0) + ": " + e.getMessage(), e);
    } catch (InterruptedException e) {
      Thread.currentThread().interrupt();
      throw new IllegalStateException("interrupted while running " + cmd.get(0), e);
    }
  }

  /** Runs and fails with the command's stderr when it exits non-zero. */
  static Result run(String... cmd) {
    return exec(List.of(cmd)).orThrow(List.of(cmd));
  }

  private static String read(java.io.InputStream in) {
    try (in) {
      return new String(in.readAllBytes(), StandardCharsets.UTF_8);
    } catch (IOException e) {
      return "";
    }
  }

  /** Bytes a file really occupies (st_blocks × 512). */
  static long allocated(java.nio.file.Path file) {
    String[] f = run("stat", "-c", "%b %B", file.toString()).stdout().strip().split(" ");
    return Long.parseLong(f[0]) * Long.parseLong(f[1]);
  }

  /** Apparent bytes and entries of a tree on one filesystem (as cp -x sees it). */
  static long[] treeSize(java.nio.file.Path dir) {
    long bytes = Long.parseLong(run("du", "-s", "-x", "-B1", "--apparent-size", dir.toString()).stdout().strip().split("\\s+")[0]);
    long entries = run("find", dir.toString(), "-xdev").stdout().lines().count();
    return new long[] {bytes, entries};
  }
}
