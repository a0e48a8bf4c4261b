package io.xenvbd.bench;

import io.xenvbd.api.VirtualDisk;
import io.xenvbd.disk.DiskEngine;
import io.xenvbd.disk.DiskRequest;
import io.xenvbd.disk.EngineConfig;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.UUID;

/**
 * Profile for benchmark 1: where the agent's build of the recipe disk (2 GiB ext3, the source tree)
 * spends its time, stage by stage, timed by the disk engine's own progress callbacks.
 */
final class StagesBench {
  private static final List<String> STAGES =
      List.of("Create", "Format", "Populate", "Tailor", "Check", "Publish");

  private StagesBench() {}

  static void run(Ctx ctx) {
    DiskEngine engine =
        new DiskEngine(EngineConfig.defaults(ctx.dir("stages/images"), List.of(ctx.source())));
    StringBuilder md =
        new StringBuilder("### Profile: the agent's build of the recipe disk, stage by stage\n\n");
    md.append(
        String.format(
            Locale.ROOT,
            "`DiskEngine.build` of benchmark 1's disk (2 GiB ext3, the same tree), %d"
                + " builds per method after a warm-up, alternating; ms from a stage's first progress callback to the next"
                + " stage's (Publish: to the end of build()). Medians.\n\n| method | ",
            ctx.runs()));
    STAGES.forEach(s -> md.append(s).append(" | "));
    md.append("total |\n|---|").append("---|".repeat(STAGES.size() + 1)).append('\n');
    Map<String, Map<String, List<Double>>> all = new LinkedHashMap<>();
    for (int round = 0; round <= ctx.lastRound(); round++) {
      for (String method : List.of("Offline", "LoopMount")) {
        Map<String, Double> ms = once(engine, ctx, method, round);
        if (round < ctx.firstRound()) continue;
        ms.forEach(
            (k, v) ->
                all.computeIfAbsent(method, m -> new LinkedHashMap<>())
                    .computeIfAbsent(k, x -> new ArrayList<>())
                    .add(v));
      }
    }
    all.forEach(
        (method, stages) -> {
          md.append("| ").append(method).append(" | ");
          for (String s : STAGES) {
            List<Double> v = stages.get(s);
            md.append(v == null ? "–" : String.format(Locale.ROOT, "%.0f", Stats.of(v).median()))
                .append(" | ");
          }
          md.append(String.format(Locale.ROOT, "%.0f |\n", Stats.of(stages.get("total")).median()));
        });
    md.append("\nReproduce: `")
        .append(ctx.command())
        .append("`\n\n")
        .append(Report.environment())
        .append('\n');
    ctx.report().section("stages", md.toString());
    Rig.removeTree(ctx.work().resolve("stages"));
  }

  private static Map<String, Double> once(DiskEngine engine, Ctx ctx, String method, int round) {
    String name = "st-" + method.toLowerCase(Locale.ROOT) + "-" + round;
    VirtualDisk vd = Disks.parse(Disks.recipe(name, "2Gi", "ext3", method, ctx.source()));
    String uid = UUID.randomUUID().toString();
    Map<String, Long> first = new LinkedHashMap<>();
    long t0 = System.nanoTime();
    engine.build(
        DiskRequest.of("default", name, uid, vd.getSpec()),
        (stage, d, t, p) -> first.putIfAbsent(stage, System.nanoTime()));
    long end = System.nanoTime();
    engine.delete("default", name, uid);
    Map<String, Double> out = new LinkedHashMap<>();
    List<Map.Entry<String, Long>> seen = new ArrayList<>(first.entrySet());
    for (int i = 0; i < seen.size(); i++) {
      long next = i + 1 < seen.size() ? seen.get(i + 1).getValue() : end;
      out.put(seen.get(i).getKey(), (next - seen.get(i).getValue()) / 1e6);
    }
    out.put("total", (end - t0) / 1e6);
    return out;
  }
}
