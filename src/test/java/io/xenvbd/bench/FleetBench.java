package io.xenvbd.bench;

import io.fabric8.kubernetes.client.KubernetesClient;
import io.xenvbd.api.VirtualDisk;
import io.xenvbd.local.LocalConfig;
import io.xenvbd.local.LocalMode;
import io.xenvbd.testing.Exec;
import io.xenvbd.testing.Manifests;
import io.xenvbd.testing.XfsReflinkRoot;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Locale;
import java.util.Map;

/**
 * Issue 16's fleet: N disks cloned from one 2 GiB ext4 template holding the source tree, each with
 * its own hostname and fstab, all created at once through local mode, on an ext4 images root (the
 * machine's disk) and on an XFS-with-reflink images root made on a loop-backed sparse file. Against
 * runs of the recipe (bench/recipe.sh) alternated with the fleets: before, between and after.
 */
final class FleetBench {
  private static final com.fasterxml.jackson.databind.ObjectMapper JSON =
      new com.fasterxml.jackson.databind.ObjectMapper();

  /**
   * Fleets measured one after another on each root: the first cold, the others warm. Experiments
   * only: {@code -Dbench.fleetRounds=N} (default 2), {@code -Dbench.fleetXfsOnly=true} (the reflink
   * root alone), {@code -Dbench.fleetExt4Only=true} (the ext4 root alone); the report's command
   * line does not show them.
   */
  private static final int ROUNDS = Integer.getInteger("bench.fleetRounds", 2);

  private static final boolean EXT4 = !Boolean.getBoolean("bench.fleetXfsOnly");

  private static final boolean XFS = !Boolean.getBoolean("bench.fleetExt4Only");

  private FleetBench() {}

  /** What one fleet measured. */
  record Fleet(
      String root,
      double readySeconds,
      double totalSeconds,
      List<Double> createToReady,
      List<Double> buildSeconds,
      long templateAllocated,
      long fleetBytes,
      String bytesHow,
      Map<String, Long> methods,
      long sharedBytes,
      Map<String, Long> controlPlane) {}

  /** Clones made one at a time with nothing beside them, after the fleets (warm). */
  record Alone(String root, List<Double> createToReady, List<Double> buildSeconds) {}

  private static final int ALONE = 5;

  /** The long run's fleet reported besides its last: an agent after 450 clones. */
  private static final int LONG_RUN_FIRST = 10;

  static void run(Ctx ctx) throws Exception {
    int disks = ctx.fleetDisks();
    List<Double> recipe = new ArrayList<>();
    recipe(ctx, 0); // warm-up: page cache of the source, JIT of nothing
    recipe.add(recipe(ctx, 1));
    List<Alone> alone = new ArrayList<>();
    List<Double> sequence = new ArrayList<>(); // every reflink fleet's create → Ready, in order
    List<Fleet> ext4 =
        EXT4
            ? fleet(ctx, "ext4", ctx.dir("fleet/ext4"), disks, null, alone, new ArrayList<>())
            : List.of();
    recipe.add(recipe(ctx, 2));
    List<Fleet> xfs = List.of();
    if (XFS)
      try (XfsReflinkRoot root =
          XfsReflinkRoot.create(ctx.dir("fleet"), (long) (2 * disks + 12) * (2L << 30))) {
        // Room for two fleets and some: the next is placed as the last one's deletes free it.
        // Placement counts a disk made before a heartbeat twice (in the beat and as not yet in
        // it), on purpose, and a disk deleted since the beat still counts; with room for four or
        // twelve more disks, one fleet in three had its last clones wait ~6 s for a beat
        // (InsufficientStorage), which measured placement's margin, not the clones.
        xfs =
            fleet(
                ctx,
                "xfs-reflink",
                root.mountPoint.resolve("local"),
                disks,
                root.mountPoint,
                alone,
                sequence);
      }
    recipe.add(recipe(ctx, 3));
    List<Fleet> all = new ArrayList<>(ext4);
    all.addAll(xfs);
    ctx.report().section("fleet", render(ctx, disks, recipe, all, alone, sequence));
    Rig.removeTree(ctx.work().resolve("fleet"));
  }

  private static double recipe(Ctx ctx, int i) throws IOException {
    Path img = ctx.dir("fleet/recipe").resolve("vm1disk-" + i + ".img");
    Exec.Result r =
        Exec.run(
            List.of(
                "bash",
                ctx.recipeScript().toString(),
                img.toString(),
                ctx.source().toString(),
                "ext3"));
    r.ok();
    Files.deleteIfExists(img);
    return r.seconds();
  }

  /**
   * The template, then two fleets of {@code n} clones, each created at once and timed from the
   * first create to the last Ready (and a sync), then deleted: the first right after local mode
   * started (its JVM compiles the clone path while it runs), the second in a warm JVM, as an
   * operator and an agent that have been running for a while would see it; on the reflink root
   * more, up to {@link Ctx#fleetLongRun}, each fleet's time added to {@code sequence}.
   */
  private static List<Fleet> fleet(
      Ctx ctx,
      String rootName,
      Path localDir,
      int n,
      Path xfsMount,
      List<Alone> alone,
      List<Double> sequence)
      throws Exception {
    LocalConfig config = new LocalConfig(localDir, List.of(ctx.source()), 0, "fleet-" + rootName);
    try (LocalMode local = LocalMode.start(config);
        KubernetesClient client = Clients.client(local.config().kubeconfig(), null);
        ReadyWatch watch = new ReadyWatch(client)) {
      Disks.create(client, template(ctx));
      VirtualDisk template = watch.awaitReady("template", 600).disk();
      List<Fleet> rounds = new ArrayList<>();
      for (int round = 1; round <= ROUNDS; round++) {
        rounds.add(round(ctx, local, client, watch, rootName, round, n, xfsMount, template));
        sequence.add(rounds.get(rounds.size() - 1).readySeconds());
      }
      if (xfsMount != null && ctx.fleetLongRun() > ROUNDS) {
        // The reflink root's fleets are bound by the CPU, and the JIT still compiles the clone
        // path for thousands of clones (fifty fleets in one JVM kept getting faster up to about
        // the fortieth): the tenth and the last are reported, every fleet's time in one line.
        for (int round = ROUNDS + 1; round <= ctx.fleetLongRun(); round++) {
          Fleet f = round(ctx, local, client, watch, rootName, round, n, xfsMount, template);
          sequence.add(f.readySeconds());
          if (round == LONG_RUN_FIRST || round == ctx.fleetLongRun()) rounds.add(f);
        }
      }
      alone.add(alone(ctx, client, watch, rootName));
      Disks.delete(client, "template");
      watch.awaitGone("template", 600);
      return rounds;
    }
  }

  private static Fleet round(
      Ctx ctx,
      LocalMode local,
      KubernetesClient client,
      ReadyWatch watch,
      String rootName,
      int round,
      int n,
      Path xfsMount,
      VirtualDisk template)
      throws Exception {
    Exec.run("sync").ok();
    long usedBefore = xfsMount == null ? 0 : used(xfsMount);
    Map<String, Long> createdAt = new LinkedHashMap<>();
    // parsed before the clock starts: a client's reading of its manifests is not the product's
    Map<String, VirtualDisk> manifests = new LinkedHashMap<>();
    for (int i = 0; i < n; i++) {
      String name = prefix(rootName) + (round == 1 ? "vm-" : "vm" + round + "-") + i;
      manifests.put(name, Disks.parse(clone(name)));
    }
    Map<String, Long> requestsBefore = controlPlane(local);
    long t0 = System.nanoTime();
    for (var m : manifests.entrySet()) {
      createdAt.put(m.getKey(), System.nanoTime());
      client.resource(m.getValue()).create();
    }
    List<Double> ready = new ArrayList<>();
    long last = t0;
    long fleetAllocated = 0;
    long shared = 0;
    Map<String, Long> methods = new LinkedHashMap<>();
    for (String name : createdAt.keySet()) {
      ReadyWatch.Seen seen = watch.awaitReady(name, 1800);
      ready.add((seen.nanos() - createdAt.get(name)) / 1e9);
      last = Math.max(last, seen.nanos());
      var st = seen.disk().getStatus();
      fleetAllocated += st.allocatedBytes() == null ? 0 : st.allocatedBytes();
      // status.cloned is not mapped through the agent protocol yet: the agent's metadata beside
      // the image says it.
      var cloned =
          JSON.readTree(local.config().images().resolve("default/" + name + ".img.json").toFile())
              .path("cloned");
      methods.merge(cloned.path("method").asText("not recorded"), 1L, Long::sum);
      shared += cloned.path("sharedBytes").asLong(0);
    }
    double allReady = (last - t0) / 1e9;
    Exec.run("sync").ok();
    double total = (System.nanoTime() - t0) / 1e9;
    // counted after the clock stops: the copy of the audit is the benchmark's work, not the
    // product's
    Map<String, Long> controlPlane = controlPlane(local);
    requestsBefore.forEach((k, v) -> controlPlane.merge(k, -v, Long::sum));
    // On a reflink root the files share blocks, so their allocations overlap: the filesystem's
    // own count tells.
    long bytes = xfsMount == null ? fleetAllocated : used(xfsMount) - usedBefore;
    String how =
        xfsMount == null
            ? "sum of the clones' status.allocatedBytes (nothing is shared on ext4)"
            : "growth of the XFS filesystem's used blocks (statfs) from before the first create to after the last Ready";
    Map<String, String> diskOfRun = new LinkedHashMap<>();
    createdAt.keySet().forEach(k -> diskOfRun.put(k, rootName));
    List<Double> builds =
        RecipeBench.agentBuildTimes(ctx.work().resolve("xenvbd.log"), diskOfRun)
            .getOrDefault(rootName, List.of());
    for (String name : createdAt.keySet()) Disks.delete(client, name);
    for (String name : createdAt.keySet()) watch.awaitGone(name, 600);
    return new Fleet(
        rootName
            + ", fleet "
            + round
            + (round == 1 ? " (cold)" : "")
            + (round > ROUNDS ? " (long-running: after " + (round - 1) * n + " clones)" : ""),
        allReady,
        total,
        ready,
        builds,
        template.getStatus().allocatedBytes(),
        bytes,
        how,
        methods,
        shared,
        controlPlane);
  }

  /**
   * What the control plane has done so far: the embedded API server's requests by verb (its audit:
   * "api create", "api patch", ...), and the operator's reconciles and calls to agents (its
   * counters: "reconciles", "agent calls").
   */
  private static Map<String, Long> controlPlane(LocalMode local) {
    Map<String, Long> m = new LinkedHashMap<>();
    for (String line : local.operatorMetrics().split("\n")) {
      if (line.startsWith("#") || line.isBlank()) continue;
      String name = line.substring(0, line.indexOf(line.contains("{") ? '{' : ' '));
      long value = (long) Double.parseDouble(line.substring(line.lastIndexOf(' ') + 1));
      if (name.equals("xenvbd_operator_reconciles_started_total"))
        m.merge("reconciles", value, Long::sum);
      if (name.equals("xenvbd_operator_agent_calls_total"))
        m.merge("agent calls", value, Long::sum);
    }
    for (var e : local.audit()) m.merge("api " + e.verb(), 1L, Long::sum);
    return m;
  }

  /** Per disk of a fleet of {@code n}: what {@link #controlPlane} counted during it. */
  static String perDisk(Map<String, Long> counted, int n) {
    long writes =
        counted.entrySet().stream()
            .filter(e -> e.getKey().startsWith("api "))
            .filter(e -> !List.of("api get", "api list", "api watch").contains(e.getKey()))
            .mapToLong(Map.Entry::getValue)
            .sum();
    long reads =
        counted.getOrDefault("api get", 0L)
            + counted.getOrDefault("api list", 0L)
            + counted.getOrDefault("api watch", 0L);
    return String.format(
        Locale.ROOT,
        "%.1f API writes, %.1f API reads, %.1f reconciles, %.1f agent calls",
        (double) writes / n,
        (double) reads / n,
        (double) counted.getOrDefault("reconciles", 0L) / n,
        (double) counted.getOrDefault("agent calls", 0L) / n);
  }

  /** {@link #ALONE} clones, each created once the one before is Ready and deleted. */
  private static Alone alone(Ctx ctx, KubernetesClient client, ReadyWatch watch, String rootName)
      throws Exception {
    List<Double> ready = new ArrayList<>();
    Map<String, String> diskOfRun = new LinkedHashMap<>();
    for (int i = 0; i < ALONE; i++) {
      String name = prefix(rootName) + "solo-" + i;
      Exec.run("sync").ok();
      long t0 = System.nanoTime();
      Disks.create(client, clone(name));
      ready.add((watch.awaitReady(name, 600).nanos() - t0) / 1e9);
      diskOfRun.put(name, rootName);
      Disks.delete(client, name);
      watch.awaitGone(name, 600);
    }
    List<Double> builds =
        RecipeBench.agentBuildTimes(ctx.work().resolve("xenvbd.log"), diskOfRun)
            .getOrDefault(rootName, List.of());
    return new Alone(rootName, ready, builds);
  }

  /**
   * Each root's disks have names of their own: the agent's build times are read from the log of the
   * whole run, where the same name on two roots would mix their figures.
   */
  private static String prefix(String rootName) {
    return rootName.startsWith("xfs") ? "x" : "e";
  }

  static String template(Ctx ctx) {
    return Manifests.disk(
        "template",
        "2Gi",
        """
        filesystem: ext4
        reclaimPolicy: Delete
        populate:
          hostPaths: [{path: "%s", target: /}]
          createDirs: [/proc, /sys, /home, /tmp]
        tailor:
          hostname: template
          fstab: [{device: self, mountPoint: /, type: ext4, options: defaults, dump: 0, pass: 1}]
        """
            .formatted(ctx.source()));
  }

  static String clone(String name) {
    return Manifests.disk(
        name,
        "2Gi",
        """
        filesystem: ext4
        reclaimPolicy: Delete
        populate:
          cloneFrom: {name: template}
        tailor:
          hostname: %s
          fstab: [{device: self, mountPoint: /, type: ext4, options: defaults, dump: 0, pass: 1}]
        """
            .formatted(name));
  }

  private static long used(Path mount) throws IOException {
    var store = Files.getFileStore(mount);
    return store.getTotalSpace() - store.getUnallocatedSpace();
  }

  private static String render(
      Ctx ctx,
      int n,
      List<Double> recipe,
      List<Fleet> fleets,
      List<Alone> alone,
      List<Double> sequence) {
    long[] tree = Measure.treeSize(ctx.source());
    double a = Stats.of(recipe).median();
    StringBuilder md = new StringBuilder("## 6. A fleet from one template\n\n");
    md.append(
        String.format(
            Locale.ROOT,
            "%d VirtualDisks cloned (`populate.cloneFrom`) from one 2 GiB ext4 template"
                + " holding the same tree (%s, %.1f MB, %d entries), each with its own hostname and an fstab naming its own"
                + " `UUID=`, all created at once through local mode (`LocalMode.start` in this JVM; the agent builds 2 at a"
                + " time; the benchmark parses the manifests before the clock starts, as kubectl would in its own process). Two fleets on each root, one after the other in the same local mode: the first right after it"
                + " started (cold: the JVM compiles the clone path while it runs; the reflink root's local mode starts after"
                + " the ext4 fleets, in the same JVM, so much of its path is compiled by then), the second once the first is deleted"
                + " (warm, as an operator and an agent that have been running see a fleet)%s. Total: first create → last Ready seen by a watch (a clone is Ready only once its image and directory are fsynced), and the same plus a `sync` of the whole machine (the recipe's own end). Per disk: create → Ready (includes"
                + " waiting for a worker) and the agent's own build time (its log). Roots: the machine's ext4 disk, and XFS"
                + " with reflink (`mkfs.xfs -m reflink=1`) on a loop-backed sparse file on that disk. Recipe: `bench/recipe.sh`"
                + " (2 GiB ext3, the same tree), one warm-up and %d measured runs alternated with the fleets (before, between,"
                + " after): %s s, median **%.2f s**.\n\n",
            n,
            ctx.source(),
            tree[0] / 1e6,
            tree[1],
            ctx.fleetLongRun() > ROUNDS
                ? "; on the reflink root, "
                    + ctx.fleetLongRun()
                    + " fleets in all, one after another, of which the "
                    + (ctx.fleetLongRun() > LONG_RUN_FIRST ? "tenth and the last are" : "last is")
                    + " reported: an agent that has been running (in one JVM, fleets keep getting"
                    + " faster for thousands of clones as the JIT compiles the clone path; every fleet's time is"
                    + " listed below the table)"
                : "",
            recipe.size(),
            RecipeBench.fmt(recipe),
            a));
    md.append(
        "| images root | first create → last Ready | ÷ recipe | with a `sync` after | ÷ recipe | ÷ %d, ÷ recipe (a clone's share of the fleet) | create → Ready P50 / P95 | agent build P50 / P95 | build / recipe (P50, P95)"
                .formatted(n)
            + " | bytes allocated by the fleet | ÷ template's allocation | clone method | shared when made (sum) |\n");
    md.append("|---|---|---|---|---|---|---|---|---|---|---|---|---|\n");
    for (Fleet f : fleets) {
      Stats r = Stats.of(f.createToReady());
      Stats b = f.buildSeconds().isEmpty() ? null : Stats.of(f.buildSeconds());
      md.append(
          String.format(
              Locale.ROOT,
              "| %s | %.2f s | **%.2f** | %.2f s | %.2f | %.2f s, **%.2f** | %.2f / %.2f s | %s | %s | %s | **%.2f** | %s | %s |\n",
              f.root(),
              f.readySeconds(),
              f.readySeconds() / a,
              f.totalSeconds(),
              f.totalSeconds() / a,
              f.readySeconds() / n,
              f.readySeconds() / n / a,
              r.percentile(50),
              r.percentile(95),
              orDash(
                  b,
                  x ->
                      String.format(
                          Locale.ROOT, "%.2f / %.2f s", x.percentile(50), x.percentile(95))),
              orDash(
                  b,
                  x ->
                      String.format(
                          Locale.ROOT,
                          "**%.2f**, %.2f",
                          x.percentile(50) / a,
                          x.percentile(95) / a)),
              mib(f.fleetBytes()),
              (double) f.fleetBytes() / f.templateAllocated(),
              f.methods(),
              mib(f.sharedBytes())));
    }
    if (sequence.size() > ROUNDS) md.append(sequenceLine(sequence, a));
    md.append("\nHow the bytes were counted: ");
    fleets.stream()
        .filter(f -> f.root().endsWith("(cold)"))
        .forEach(
            f ->
                md.append(f.root())
                    .append(": ")
                    .append(f.bytesHow())
                    .append(
                        String.format(Locale.ROOT, "; template %s. ", mib(f.templateAllocated()))));
    md.append(
        "\n\nWhat the control plane did per disk (the embedded API server's audit, the operator's counters): ");
    md.append(
        fleets.stream()
            .map(f -> f.root() + ": " + perDisk(f.controlPlane(), n))
            .collect(java.util.stream.Collectors.joining("; ")));
    md.append(
        ".\n\nA clone with nothing beside it: after the fleets, %d clones of the same template made one at a time (each created once the one before is Ready, deleted and synced):\n\n"
            .formatted(ALONE));
    md.append(
        "| images root | create → Ready P50 (min–max) | ÷ recipe | agent build P50 (min–max) | ÷ recipe |\n");
    md.append("|---|---|---|---|---|\n");
    for (Alone o : alone) {
      Stats r = Stats.of(o.createToReady());
      Stats b = o.buildSeconds().isEmpty() ? null : Stats.of(o.buildSeconds());
      md.append(
          String.format(
              Locale.ROOT,
              "| %s | %.2f (%.2f–%.2f) s | **%.2f** | %s | %s |\n",
              o.root(),
              r.median(),
              r.min(),
              r.max(),
              r.median() / a,
              orDash(
                  b,
                  x ->
                      String.format(
                          Locale.ROOT, "%.2f (%.2f–%.2f) s", x.median(), x.min(), x.max())),
              orDash(b, x -> String.format(Locale.ROOT, "**%.2f**", x.median() / a))));
    }
    md.append("\nReproduce: `")
        .append(ctx.command())
        .append("`\n\n")
        .append(Report.environment())
        .append('\n');
    return md.toString();
  }

  /**
   * Every reflink fleet's first create → last Ready, in order; how many took less than five recipe
   * runs (issue 16's target) and the first that did; and the median of the last ten (where a
   * long-running agent settles, one slow fleet aside).
   */
  static String sequenceLine(List<Double> seconds, double recipe) {
    double target = 5 * recipe;
    int below = 0;
    int first = -1;
    StringBuilder line =
        new StringBuilder(
            "\nEvery fleet on the reflink root, in order (first create → last Ready, s): ");
    for (int i = 0; i < seconds.size(); i++) {
      line.append(i == 0 ? "" : ", ").append(String.format(Locale.ROOT, "%.2f", seconds.get(i)));
      if (seconds.get(i) < target) {
        below++;
        if (first < 0) first = i;
      }
    }
    line.append(String.format(Locale.ROOT, ". Below 5 recipe runs (%.2f s): ", target));
    line.append(
        below == 0
            ? "none"
            : String.format(
                Locale.ROOT,
                "%d of %d, the first the %s",
                below,
                seconds.size(),
                ordinal(first + 1)));
    List<Double> last = seconds.subList(Math.max(0, seconds.size() - 10), seconds.size());
    double median = Stats.of(last).median();
    line.append(
        String.format(
            Locale.ROOT,
            "; the last %d fleets' median **%.2f s = %.2f** recipe runs.\n",
            last.size(),
            median,
            median / recipe));
    return line.toString();
  }

  private static String ordinal(int n) {
    String suffix =
        n % 100 >= 11 && n % 100 <= 13
            ? "th"
            : switch (n % 10) {
              case 1 -> "st";
              case 2 -> "nd";
              case 3 -> "rd";
              default -> "th";
            };
    return n + suffix;
  }

  /** A figure of the agent's build times, or a dash where the log had none. */
  private static String orDash(Stats b, java.util.function.Function<Stats, String> figure) {
    return b == null ? "–" : figure.apply(b);
  }

  private static String mib(long bytes) {
    return String.format(Locale.ROOT, "%.1f MiB", bytes / (double) (1 << 20));
  }
}
