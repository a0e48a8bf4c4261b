package io.xenvbd.bench;

import io.xenvbd.api.VirtualDisk;
import io.xenvbd.disk.DiskEngine;
import io.xenvbd.disk.DiskRequest;
import io.xenvbd.disk.EngineConfig;
import io.xenvbd.testing.Exec;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.UUID;
import java.util.concurrent.ConcurrentHashMap;

/**
 * Benchmark 5: throughput of the populate stage, timed inside the agent's disk engine by its own
 * progress callbacks, against a plain {@code cp -a} of the same tree onto the same kind of disk (2
 * GiB sparse ext4 made with the same mke2fs options, loop-mounted). Two figures each: the copy
 * alone, and the copy until the data is on the image (sync and umount; for Offline, mke2fs -d).
 */
final class ThroughputBench {
  private ThroughputBench() {}

  static void run(Ctx ctx) throws Exception {
    Path dir = ctx.dir("throughput");
    Path images = ctx.dir("throughput/images");
    DiskEngine engine = new DiskEngine(EngineConfig.defaults(images, List.of(ctx.source())));
    Map<String, List<Double>> copy = new LinkedHashMap<>();
    Map<String, List<Double>> durable = new LinkedHashMap<>();
    List<String> variants = List.of("cp -a (baseline)", "LoopMount", "Offline");
    variants.forEach(
        v -> {
          copy.put(v, new ArrayList<>());
          durable.put(v, new ArrayList<>());
        });
    for (int round = 0; round <= ctx.lastRound(); round++) {
      for (int k = 0; k < variants.size(); k++) {
        String v = variants.get((k + round) % variants.size());
        double[] r = v.startsWith("cp") ? baseline(ctx, dir) : product(engine, ctx, v, round);
        if (round < ctx.firstRound()) continue; // warm-up
        copy.get(v).add(r[0]);
        durable.get(v).add(r[1]);
      }
    }
    Rig.removeTree(dir);
    ctx.report().section("throughput", render(ctx, copy, durable));
  }

  /** Seconds {copy, copy until on the image} of cp -a onto a loop-mounted fresh ext4 image. */
  private static double[] baseline(Ctx ctx, Path dir) throws Exception {
    Path img = dir.resolve("baseline.img");
    Path mnt = dir.resolve("baseline-mnt");
    Files.deleteIfExists(img);
    Files.createDirectories(mnt);
    Exec.run("truncate", "-s", "2G", img.toString()).ok();
    // the options the product uses for a sparse ext4 image (Formatter.mke2fs)
    Exec.run(
            "mke2fs",
            "-F",
            "-q",
            "-t",
            "ext4",
            "-E",
            "lazy_itable_init=1,lazy_journal_init=1",
            img.toString())
        .ok();
    Exec.run("mount", "-o", "loop", img.toString(), mnt.toString()).ok();
    try {
      double cp = Exec.run("cp", "-a", ctx.source() + "/.", mnt + "/").ok().seconds();
      double sync = Exec.run("sync", "-f", mnt.toString()).ok().seconds();
      double umount = Exec.run("umount", mnt.toString()).ok().seconds();
      return new double[] {cp, cp + sync + umount};
    } finally {
      if (Exec.run(List.of("mountpoint", "-q", mnt.toString())).exit() == 0)
        Exec.run(List.of("umount", mnt.toString()));
      Files.deleteIfExists(img);
    }
  }

  /** Seconds {Populate → Tailor, Populate → Check} of one build by the disk engine. */
  private static double[] product(DiskEngine engine, Ctx ctx, String method, int round) {
    String name = "tp-" + method.toLowerCase(Locale.ROOT) + "-" + round;
    VirtualDisk vd = Disks.parse(Disks.recipe(name, "2Gi", "ext4", method, ctx.source()));
    String uid = UUID.randomUUID().toString();
    Map<String, Long> firstSeen = new ConcurrentHashMap<>();
    engine.build(
        DiskRequest.of("default", name, uid, vd.getSpec()),
        (stage, done, total, pct) -> firstSeen.putIfAbsent(stage, System.nanoTime()));
    engine.delete("default", name, uid);
    long populate = firstSeen.get("Populate");
    long tailor = firstSeen.get("Tailor");
    long check = firstSeen.get("Check");
    return new double[] {(tailor - populate) / 1e9, (check - populate) / 1e9};
  }

  private static String render(
      Ctx ctx, Map<String, List<Double>> copy, Map<String, List<Double>> durable) {
    long bytes = Measure.treeSize(ctx.source())[0];
    double baseCopy = Stats.of(copy.get("cp -a (baseline)")).median();
    double baseDurable = Stats.of(durable.get("cp -a (baseline)")).median();
    StringBuilder md = new StringBuilder("## 5. Populate throughput\n\n");
    md.append(
        String.format(
            Locale.ROOT,
            "The same tree (%s, %.1f MB apparent) onto a fresh 2 GiB ext4 image. Product:"
                + " the agent's disk engine (`DiskEngine.build`), timed by its own progress callbacks: *copy* = Populate →"
                + " Tailor stage (LoopMount: `cp -ax` into the mounted image; Offline: `cp -ax` into the staging"
                + " directory), *until on the image* = Populate → Check stage (adds, for LoopMount, tailor + sync + umount;"
                + " for Offline, tailor + `mke2fs -d`). Baseline: `cp -a` onto the loop-mounted image, then `sync -f` +"
                + " `umount`. %d rounds (%s), alternating.\n\n",
            ctx.source(),
            bytes / 1e6,
            ctx.runs(),
            ctx.firstRound() == 1 ? "after a warm-up round" : "no warm-up"));
    md.append(
        "| variant | copy: s, median (min–max) | MB/s | vs cp -a | until on the image: s, median (min–max) | MB/s | vs cp -a |\n");
    md.append("|---|---|---|---|---|---|---|\n");
    for (String v : copy.keySet()) {
      Stats c = Stats.of(copy.get(v));
      Stats d = Stats.of(durable.get(v));
      md.append(
          String.format(
              Locale.ROOT,
              "| %s | %s | %.0f | %s | %s | %.0f | %s |\n",
              v,
              c.medianRange("%.2f"),
              bytes / 1e6 / c.median(),
              v.startsWith("cp")
                  ? "100 %"
                  : String.format(Locale.ROOT, "**%.0f %%**", 100 * baseCopy / c.median()),
              d.medianRange("%.2f"),
              bytes / 1e6 / d.median(),
              v.startsWith("cp")
                  ? "100 %"
                  : String.format(Locale.ROOT, "**%.0f %%**", 100 * baseDurable / d.median())));
    }
    md.append("\nReproduce: `")
        .append(ctx.command())
        .append("`\n\n")
        .append(Report.environment())
        .append('\n');
    return md.toString();
  }
}
