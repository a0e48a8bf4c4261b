package io.xenvbd.bench;

import io.fabric8.kubernetes.client.KubernetesClient;
import io.xenvbd.api.VirtualDisk;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.concurrent.Executors;
import java.util.concurrent.ScheduledExecutorService;
import java.util.concurrent.TimeUnit;

/**
 * Benchmark 2 (KubeVirt's method): empty 256Mi ext4 VirtualDisks created at a fixed gap; create →
 * Ready per disk as seen by a watch; API requests per disk counted at every client (operator,
 * agent, the benchmark's own creates and watch) and the operator's calls to the agent from its
 * metrics.
 */
final class LatencyBench {
  private LatencyBench() {}

  /**
   * One round: n disks created gap ms apart, each one's create → Ready, and the per-disk timeline.
   */
  private record Round(
      Stats latency, double createSpan, double wall, List<Timeline.Disk> timeline) {}

  static void run(Ctx ctx) throws Exception {
    Path dir = ctx.dir("latency");
    int n = ctx.latencyDisks();
    Clients.RequestCounter benchRequests = new Clients.RequestCounter();
    try (Rig rig = Rig.start(dir, 1, false, List.of(), ctx.pollMax(), ctx.agentWorkers());
        KubernetesClient client = Clients.client(rig.api, benchRequests);
        ReadyWatch watch = new ReadyWatch(client)) {
      Thread.sleep(1000); // informers of the operator and the watch have synced
      // A running operator is warm: the first round after start (JIT, connection pools) is reported
      // apart,
      // its disks deleted, and the round after it is the measured one.
      Round cold = null;
      if (ctx.warmup()) {
        cold = round(ctx, client, watch, "cold", n);
        deleteAll(client, "cold", n);
      }
      Map<String, Long> op0 = rig.operatorRequests.snapshot();
      Map<String, Long> ag0 = rig.agentRequests.snapshot();
      long bench0 = benchRequests.total();
      String metrics0 = rig.operatorMetrics();
      Round warm = round(ctx, client, watch, "lat", n);
      Map<String, Long> opDelta =
          Clients.RequestCounter.delta(op0, rig.operatorRequests.snapshot());
      Map<String, Long> agDelta = Clients.RequestCounter.delta(ag0, rig.agentRequests.snapshot());
      long benchDelta = benchRequests.total() - bench0;
      String metrics1 = rig.operatorMetrics();
      long agentCalls =
          Rig.counter(metrics1, "xenvbd_operator_agent_calls_total")
              - Rig.counter(metrics0, "xenvbd_operator_agent_calls_total");
      long reconciles =
          Rig.counter(metrics1, "xenvbd_operator_reconciles_total")
              - Rig.counter(metrics0, "xenvbd_operator_reconciles_total");
      ctx.report()
          .section(
              ctx.section("latency"),
              render(ctx, warm, cold, n, opDelta, agDelta, benchDelta, agentCalls, reconciles));
    } finally {
      Rig.removeTree(dir);
    }
  }

  private static Round round(
      Ctx ctx, KubernetesClient client, ReadyWatch watch, String prefix, int n) throws Exception {
    long[] created = new long[n];
    long[] createdWall = new long[n];
    // several threads, so that one slow create does not delay the next: the creates keep their
    // cadence
    ScheduledExecutorService ses = Executors.newScheduledThreadPool(8);
    long start = System.nanoTime();
    for (int i = 0; i < n; i++) {
      int k = i;
      ses.schedule(
          () -> {
            created[k] = System.nanoTime();
            createdWall[k] = System.currentTimeMillis();
            try {
              Disks.create(client, Disks.empty(name(prefix, k), "256Mi", "ext4"));
            } catch (RuntimeException e) {
              watch.ready(name(prefix, k)).completeExceptionally(e);
            }
          },
          i * ctx.latencyGapMillis(),
          TimeUnit.MILLISECONDS);
    }
    List<Double> latency = new ArrayList<>();
    List<ReadyWatch.Seen> seens = new ArrayList<>();
    long last = 0;
    for (int i = 0; i < n; i++) {
      ReadyWatch.Seen seen = watch.awaitReady(name(prefix, i), 300);
      seens.add(seen);
      latency.add((seen.nanos() - created[i]) / 1e6);
      last = Math.max(last, seen.nanos());
    }
    ses.shutdown();
    Map<String, long[]> builds = Timeline.agentBuilds(ctx.work().resolve("xenvbd.log"));
    List<Timeline.Disk> timeline = new ArrayList<>();
    for (int i = 0; i < n; i++) {
      long[] b = builds.getOrDefault(name(prefix, i), new long[2]);
      Long placed = watch.placedAt(name(prefix, i));
      timeline.add(
          new Timeline.Disk(
              createdWall[i], placed == null ? 0 : placed, b[0], b[1], seens.get(i).wallMillis()));
    }
    return new Round(
        Stats.of(latency), (created[n - 1] - created[0]) / 1e9, (last - start) / 1e9, timeline);
  }

  /**
   * Deletes a round's disks and waits until the operator has reclaimed every one (finalizer gone).
   */
  private static void deleteAll(KubernetesClient client, String prefix, int n)
      throws InterruptedException {
    for (int i = 0; i < n; i++) Disks.delete(client, name(prefix, i));
    long deadline = System.nanoTime() + TimeUnit.MINUTES.toNanos(5);
    while (client.resources(VirtualDisk.class).inNamespace("default").list().getItems().stream()
        .anyMatch(d -> d.getMetadata().getName().startsWith(prefix + "-"))) {
      if (System.nanoTime() > deadline)
        throw new IllegalStateException("the warm-up disks were not reclaimed within 5 min");
      Thread.sleep(200);
    }
  }

  private static String name(String prefix, int i) {
    return String.format("%s-%03d", prefix, i);
  }

  private static String render(
      Ctx ctx,
      Round r,
      Round cold,
      int n,
      Map<String, Long> op,
      Map<String, Long> ag,
      long bench,
      long agentCalls,
      long reconciles) {
    long opTotal = op.values().stream().mapToLong(Long::longValue).sum();
    long agTotal = ag.values().stream().mapToLong(Long::longValue).sum();
    Stats s = r.latency();
    String breakdown = Timeline.breakdown(r.timeline());
    StringBuilder md = new StringBuilder("## 2. Control-plane latency\n\n");
    md.append(
        String.format(
            Locale.ROOT,
            "%d empty 256Mi ext4 VirtualDisks created %d ms apart (actual span of the"
                + " creates %.1f s) against local mode's composition (embedded API, one agent over HTTPS, operator, all"
                + " in this JVM); create → Ready is the time from sending the create to a watch (fabric8 informer) seeing"
                + " Ready=True. Last disk Ready %.1f s after the first create.%s%s\n\n",
            n,
            ctx.latencyGapMillis(),
            r.createSpan(),
            r.wall(),
            cold == null
                ? ""
                : " Measured on a warm process, as a running operator is: the same round ran"
                    + " once before (first row, a JVM just started) and its disks were deleted.",
            ctx.variantNote()));
    md.append("| round | P50 | P95 | P99 | min | max |\n|---|---|---|---|---|---|\n");
    if (cold != null) {
      Stats c = cold.latency();
      md.append(
          String.format(
              Locale.ROOT,
              "| first after start (cold JVM) | %.0f ms | %.0f ms | %.0f ms | %.0f ms | %.0f ms |\n",
              c.percentile(50),
              c.percentile(95),
              c.percentile(99),
              c.min(),
              c.max()));
    }
    md.append(
        String.format(
            Locale.ROOT,
            "| %s | %.0f ms | **%.0f ms** | %.0f ms | %.0f ms | %.0f ms |\n\n",
            cold == null ? "only round" : "measured (warm)",
            s.percentile(50),
            s.percentile(95),
            s.percentile(99),
            s.min(),
            s.max()));
    if (!breakdown.isEmpty())
      md.append("Where the time goes (wall clock of the watch joined with the agent's log):\n\n")
          .append(breakdown)
          .append('\n');
    md.append(
        "API requests during the run (first create → last Ready), counted by an interceptor in each fabric8"
            + " client, since the embedded API server has no request counter:\n\n");
    md.append("| client | requests | per disk | by kind |\n|---|---|---|---|\n");
    md.append(
        String.format(
            Locale.ROOT, "| operator | %d | **%.2f** | %s |\n", opTotal, opTotal / (double) n, op));
    md.append(
        String.format(
            Locale.ROOT,
            "| agent (Dom0Node heartbeat) | %d | %.2f | %s |\n",
            agTotal,
            agTotal / (double) n,
            ag));
    md.append(
        String.format(
            Locale.ROOT,
            "| benchmark (create + its watch) | %d | %.2f | |\n",
            bench,
            bench / (double) n));
    md.append(
        String.format(
            Locale.ROOT,
            "\nOperator → agent HTTPS calls: %d (%.2f per disk); reconciles: %d (%.2f per disk).\n",
            agentCalls,
            agentCalls / (double) n,
            reconciles,
            reconciles / (double) n));
    md.append("\nReproduce: `")
        .append(ctx.command())
        .append("`\n\n")
        .append(Report.environment())
        .append('\n');
    return md.toString();
  }
}
