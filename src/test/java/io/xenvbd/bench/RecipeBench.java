package io.xenvbd.bench;

import io.fabric8.kubernetes.client.KubernetesClient;
import io.xenvbd.local.LocalConfig;
import io.xenvbd.local.LocalMode;
import io.xenvbd.testing.Exec;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.regex.Matcher;
import java.util.regex.Pattern;

/**
 * Benchmark 1: the manual recipe (bench/recipe.sh) against the same 2 GiB ext3 disk through xenvbd
 * local mode, apply → Ready, for each populate method. Runs alternate, with the order rotated every
 * round so that no variant always runs right after the same neighbour; one warm-up round is not
 * counted. Both sides end with sync: the recipe's script runs it, and B runs it after Ready.
 */
final class RecipeBench {
  static final List<String> VARIANTS = List.of("A recipe", "B Offline", "B LoopMount", "B Auto");
  private static final Pattern BUILD_DONE =
      Pattern.compile("build of default/(\\S+) done in (PT\\S+)");

  private RecipeBench() {}

  static void run(Ctx ctx) throws Exception {
    Path dir = ctx.dir("recipe");
    Path recipeImages = ctx.dir("recipe/a");
    LocalConfig config =
        new LocalConfig(dir.resolve("local"), List.of(ctx.source()), 0, "bench-node");
    Map<String, List<Double>> seconds = new LinkedHashMap<>();
    Map<String, List<Double>> allocated = new LinkedHashMap<>();
    Map<String, String> diskOfRun =
        new LinkedHashMap<>(); // disk name -> variant, for the agent's build times
    Map<String, long[]> walls =
        new LinkedHashMap<>(); // disk name -> {created, placed, ready} wall-clock millis
    VARIANTS.forEach(
        v -> {
          seconds.put(v, new ArrayList<>());
          allocated.put(v, new ArrayList<>());
        });
    // The product as shipped: LocalMode itself. What-if runs need a configured operator: the same
    // composition (Rig).
    try (AutoCloseable product =
            !ctx.whatIf()
                ? LocalMode.start(config)
                : Rig.start(
                    dir.resolve("rig"),
                    1,
                    false,
                    List.of(ctx.source()),
                    ctx.pollMax(),
                    ctx.agentWorkers());
        KubernetesClient client =
            product instanceof LocalMode m
                ? Clients.client(m.config().kubeconfig(), null)
                : Clients.client(((Rig) product).api, null);
        ReadyWatch watch = new ReadyWatch(client)) {
      for (int round = 0; round <= ctx.lastRound(); round++) {
        for (int k = 0; k < VARIANTS.size(); k++) {
          String variant = VARIANTS.get((k + round) % VARIANTS.size());
          double[] r =
              variant.startsWith("A")
                  ? recipe(ctx, recipeImages, round)
                  : product(
                      client, watch, ctx, variant.substring(2), round, diskOfRun, variant, walls);
          if (round < ctx.firstRound()) continue; // warm-up: JIT, page cache of the source
          seconds.get(variant).add(r[0]);
          allocated.get(variant).add(r[1]);
        }
      }
    }
    if (ctx.firstRound() == 1) diskOfRun.keySet().removeIf(n -> n.endsWith("-0"));
    Map<String, List<Double>> builds = agentBuildTimes(ctx.work().resolve("xenvbd.log"), diskOfRun);
    Map<String, long[]> logged = Timeline.agentBuilds(ctx.work().resolve("xenvbd.log"));
    StringBuilder breakdowns = new StringBuilder();
    for (String v : VARIANTS.subList(1, VARIANTS.size())) {
      List<Timeline.Disk> disks = new ArrayList<>();
      diskOfRun.forEach(
          (name, variant) -> {
            long[] w = walls.get(name);
            long[] b = logged.getOrDefault(name, new long[2]);
            if (variant.equals(v) && w != null)
              disks.add(new Timeline.Disk(w[0], w[1], b[0], b[1], w[2]));
          });
      String table = Timeline.breakdown(disks);
      if (!table.isEmpty()) breakdowns.append("\n").append(v).append(":\n\n").append(table);
    }
    ctx.report()
        .section(
            ctx.section("recipe"),
            render(ctx, seconds, allocated, builds)
                + (breakdowns.length() == 0
                    ? ""
                    : "\nWhere B's time goes (wall clock of the watch joined with the agent's log):\n"
                        + breakdowns));
  }

  /**
   * A: the script, timed as a whole (dd, mkfs, mount, cp, mkdir, fstab, hostname, umount, sync).
   */
  private static double[] recipe(Ctx ctx, Path images, int round) {
    Path img = images.resolve("vm1disk-" + round + ".img");
    try {
      Exec.Result r =
          Exec.run(
              List.of(
                  "bash",
                  ctx.recipeScript().toString(),
                  img.toString(),
                  ctx.source().toString(),
                  "ext3"));
      r.ok();
      return new double[] {r.seconds(), Measure.allocated(img)};
    } finally {
      try {
        Files.deleteIfExists(img);
      } catch (IOException ignored) {
        // scratch directory; removed with it
      }
    }
  }

  /**
   * B: create the VirtualDisk, wait for Ready through the watch, then sync; the disk is deleted
   * untimed.
   */
  private static double[] product(
      KubernetesClient client,
      ReadyWatch watch,
      Ctx ctx,
      String method,
      int round,
      Map<String, String> diskOfRun,
      String variant,
      Map<String, long[]> walls) {
    String name = "vm1-" + method.toLowerCase(Locale.ROOT) + "-" + round;
    diskOfRun.put(name, variant);
    long createdWall = System.currentTimeMillis();
    long t0 = System.nanoTime();
    Disks.create(client, Disks.recipe(name, "2Gi", "ext3", method, ctx.source()));
    ReadyWatch.Seen seen = watch.awaitReady(name, 600);
    Long placed = watch.placedAt(name);
    walls.put(name, new long[] {createdWall, placed == null ? 0 : placed, seen.wallMillis()});
    Exec.run("sync").ok();
    double s = (System.nanoTime() - t0) / 1e9;
    double alloc =
        seen.disk().getStatus().allocatedBytes() == null
            ? -1
            : seen.disk().getStatus().allocatedBytes();
    Disks.delete(client, name);
    watch.awaitGone(name, 120);
    return new double[] {s, alloc};
  }

  /**
   * The agent logs "build of ns/name done in PT…S": its own time for the disk, without the control
   * plane.
   */
  static Map<String, List<Double>> agentBuildTimes(Path log, Map<String, String> diskOfRun)
      throws Exception {
    Map<String, List<Double>> out = new LinkedHashMap<>();
    if (!Files.exists(log)) return out; // logging went elsewhere (the smoke test): no agent figures
    for (String line :
        Files.readAllLines(log)) { // the log of this whole run: later runs reuse disk names
      Matcher m = BUILD_DONE.matcher(line);
      if (!m.find()) continue;
      String variant = diskOfRun.get(m.group(1));
      if (variant == null) continue; // another run's disk, or the warm-up round
      out.computeIfAbsent(variant, k -> new ArrayList<>())
          .add(Duration.parse(m.group(2)).toNanos() / 1e9);
    }
    return out;
  }

  private static String render(
      Ctx ctx,
      Map<String, List<Double>> seconds,
      Map<String, List<Double>> allocated,
      Map<String, List<Double>> builds) {
    long[] tree = Measure.treeSize(ctx.source());
    double a = Stats.of(seconds.get("A recipe")).median();
    StringBuilder md = new StringBuilder();
    md.append("## 1. Provisioning against the recipe\n\n");
    md.append(
        String.format(
            Locale.ROOT,
            "2 GiB ext3 disk populated with the same tree (%s, %.1f MB, %d entries),"
                + " /proc /sys /home /tmp, fstab, hostname. A: `bench/recipe.sh` (dd seek, mkfs -t ext3 -F, mount -o loop,"
                + " cp -ax, mkdir, fstab, hostname, umount, sync). B: `VirtualDisk` created through the API of local mode"
                + " (`LocalMode.start`, in this JVM; what-if runs: the same composition built by the benchmark), wall time until a watch sees Ready=True, plus `sync`. %d rounds"
                + " (%s), variants alternating with the order rotated each round.%s\n\n",
            ctx.source(),
            tree[0] / 1e6,
            tree[1],
            ctx.runs(),
            ctx.firstRound() == 1 ? "after a warm-up round" : "no warm-up",
            ctx.variantNote()));
    md.append(
        "| variant | wall time, median (min–max) | B/A (medians) | agent build time, median | allocated, median |\n");
    md.append("|---|---|---|---|---|\n");
    for (String v : VARIANTS) {
      Stats s = Stats.of(seconds.get(v));
      String ratio =
          v.startsWith("A") ? "1" : String.format(Locale.ROOT, "**%.2f**", s.median() / a);
      List<Double> b = builds.get(v);
      String build =
          b == null || b.isEmpty()
              ? "–"
              : String.format(Locale.ROOT, "%.2f s", Stats.of(b).median());
      md.append(
          String.format(
              Locale.ROOT,
              "| %s | %s s | %s | %s | %.1f MiB |\n",
              v,
              s.medianRange("%.2f"),
              ratio,
              build,
              Stats.of(allocated.get(v)).median() / (1 << 20)));
    }
    md.append("\nRaw wall times (s): ");
    seconds.forEach((v, l) -> md.append(v).append(' ').append(fmt(l)).append("; "));
    md.append("\n\nReproduce: `")
        .append(ctx.command())
        .append("`\n\n")
        .append(Report.environment())
        .append('\n');
    return md.toString();
  }

  static String fmt(List<Double> l) {
    return l.stream().map(x -> String.format(Locale.ROOT, "%.2f", x)).toList().toString();
  }
}
