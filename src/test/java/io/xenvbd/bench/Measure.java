package io.xenvbd.bench;

import io.xenvbd.testing.Exec;
import java.nio.file.Path;

/** What the benchmarks measure on disk, with the real tools: allocated bytes and tree sizes. */
final class Measure {
  private Measure() {}

  /** Bytes a file really occupies (st_blocks × 512). */
  static long allocated(Path file) {
    String[] f = Exec.ok("stat", "-c", "%b %B", file.toString()).strip().split(" ");
    return Long.parseLong(f[0]) * Long.parseLong(f[1]);
  }

  /** Apparent bytes and entries of a tree on one filesystem (as cp -x sees it). */
  static long[] treeSize(Path dir) {
    long bytes =
        Long.parseLong(
            Exec.ok("du", "-s", "-x", "-B1", "--apparent-size", dir.toString())
                .strip()
                .split("\\s+")[0]);
    long entries = Exec.ok("find", dir.toString(), "-xdev").lines().count();
    return new long[] {bytes, entries};
  }
}
