package io.xenvbd.bench;

import java.io.IOException;
import java.io.UncheckedIOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;

/**
 * What every benchmark is given: a scratch directory, the report, the prepared source tree and the
 * scale to run at, and the command line that reproduces the run (quoted in the report).
 */
record Ctx(
    Path work,
    Report report,
    Path repo,
    Path source,
    int runs,
    int latencyDisks,
    long latencyGapMillis,
    int scaleDisks,
    int scaleAgents,
    String scaleFs,
    String scaleSize,
    boolean scaleSeparateJvm,
    boolean warmup,
    Duration pollMax,
    Integer agentWorkers,
    String command,
    int fleetDisks,
    int fleetLongRun) {

  /**
   * Index of the first measured round: round 0 is a warm-up (JIT, page cache) unless warm-up is
   * off.
   */
  int firstRound() {
    return warmup ? 1 : 0;
  }

  int lastRound() {
    return warmup ? runs : runs - 1;
  }

  /** What-if runs: the operator's longest poll of a building disk (null: the product's default). */
  String variantNote() {
    String note = "";
    if (pollMax != null)
      note +=
          " operator poll of a building disk capped at "
              + pollMax.toMillis()
              + " ms (OperatorConfig.Builder.pollMax);";
    if (agentWorkers != null)
      note += " " + agentWorkers + " build workers per agent instead of local mode's 2;";
    return note.isEmpty()
        ? ""
        : " **What-if run, not the product's defaults:"
            + note
            + " same composition as local mode otherwise.**";
  }

  boolean whatIf() {
    return pollMax != null || agentWorkers != null;
  }

  /** Report section of a benchmark: what-if runs get their own, named after what they changed. */
  String section(String bench) {
    if (!whatIf()) return bench;
    return bench
        + "-whatif"
        + (pollMax == null ? "" : "-poll" + pollMax.toMillis())
        + (agentWorkers == null ? "" : "-workers" + agentWorkers);
  }

  Path recipeScript() {
    return repo.resolve("bench/recipe.sh");
  }

  Path dir(String name) {
    Path d = work.resolve(name);
    try {
      Files.createDirectories(d);
    } catch (IOException e) {
      throw new UncheckedIOException(e);
    }
    return d;
  }
}
