package io.xenvbd.bench;

import java.nio.file.Path;

/**
 * What every benchmark is given: a scratch directory, the report, the prepared source tree and the
 * scale to run at, and the command line that reproduces the run (quoted in the report).
 */
record Ctx(Path work, Report report, Path repo, Path source, int runs, int latencyDisks, long latencyGapMillis,
           int scaleDisks, int scaleAgents, String scaleFs, String scaleSize, boolean scaleSeparateJvm, boolean warmup,
           java.time.Duration pollMax, String command) {

  /** Index of the first measured round: round 0 is a warm-up (JIT, page cache) unless warm-up is off. */
  int firstRound() {
    return warmup ? 1 : 0;
  }

  int lastRound() {
    return warmup ? runs : runs - 1;
  }

  /** What-if runs: the operator's longest poll of a building disk (null: the product's default). */
  String variantNote() {
    return pollMax == null ? "" : " **What-if run: operator poll of a building disk capped at " + pollMax.toMillis()
        + " ms (OperatorConfig.withBackoff), not the product's default.**";
  }

  Path recipeScript() {
    return repo.resolve("bench/recipe.sh");
  }

  Path dir(String name) {
    Path d = work.resolve(name);
    try {
      java.nio.file.Files.createDirectories(d);
    } catch (java.io.IOException e) {
      throw new java.io.UncheckedIOException(e);
    }
    return d;
  }
}
