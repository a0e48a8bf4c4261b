package io.xenvbd.bench;

import io.fabric8.kubernetes.client.KubernetesClient;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Locale;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.Future;
import java.util.concurrent.atomic.AtomicLong;

/**
 * Benchmark 3: many small VirtualDisks across many agents (one images root each), created as fast
 * as the API takes them; time until all are Ready, reconciles per second, and the operator's heap
 * and RSS peaks, measured in its own JVM (capped at -Xmx256m) while the API server and the agents
 * run in this one.
 */
final class ScaleBench {
  private ScaleBench() {}

  static void run(Ctx ctx) throws Exception {
    Path dir = ctx.dir("scale-" + ctx.scaleDisks());
    int n = ctx.scaleDisks();
    try (Rig rig =
            Rig.start(
                dir,
                ctx.scaleAgents(),
                ctx.scaleSeparateJvm(),
                List.of(),
                ctx.pollMax(),
                ctx.agentWorkers());
        KubernetesClient client = Clients.client(rig.api, null);
        ReadyWatch watch = new ReadyWatch(client)) {
      Thread.sleep(1000);
      String metrics0 = rig.operatorMetrics();
      AtomicLong rssPeakKib = new AtomicLong();
      Thread sampler = null;
      if (rig.child() != null) {
        sampler =
            new Thread(
                () -> {
                  while (!Thread.currentThread().isInterrupted()) {
                    rssPeakKib.accumulateAndGet(rig.child().statusKib("VmRSS"), Math::max);
                    try {
                      Thread.sleep(250);
                    } catch (InterruptedException e) {
                      return;
                    }
                  }
                },
                "rss-sampler");
        sampler.setDaemon(true);
        sampler.start();
      }
      long start = System.nanoTime();
      ExecutorService creators = Executors.newFixedThreadPool(4);
      List<Future<?>> creates = new ArrayList<>();
      for (int i = 0; i < n; i++) {
        String name = name(i);
        creates.add(
            creators.submit(
                () -> Disks.create(client, Disks.empty(name, ctx.scaleSize(), ctx.scaleFs()))));
      }
      for (Future<?> f : creates) f.get();
      double createdAfter = (System.nanoTime() - start) / 1e9;
      creators.shutdown();
      long last = 0;
      for (int i = 0; i < n; i++) last = Math.max(last, watch.awaitReady(name(i), 900).nanos());
      double allReady = (last - start) / 1e9;
      String metrics1 = rig.operatorMetrics();
      long reconciles =
          Rig.counter(metrics1, "xenvbd_operator_reconciles_total")
              - Rig.counter(metrics0, "xenvbd_operator_reconciles_total");
      long agentCalls =
          Rig.counter(metrics1, "xenvbd_operator_agent_calls_total")
              - Rig.counter(metrics0, "xenvbd_operator_agent_calls_total");
      String memory;
      if (rig.child() != null) {
        if (sampler != null) sampler.interrupt();
        long hwm = rig.child().statusKib("VmHWM");
        double[] heap = rig.child().heapPeaksMib();
        double now = rig.child().heapUsedNowMib();
        int gcs = rig.child().collections();
        memory =
            String.format(
                Locale.ROOT,
                "operator JVM (-Xmx%s, default GC, ran to the end without running out):"
                    + " heap used peak **%.0f MiB** (the larger of the heap before any of its %d collections in the GC log and"
                    + " the heap used at the end, %.0f MiB), live heap peak %.0f MiB (after a collection); RSS peak **%.0f MiB**"
                    + " (VmHWM), sampled every 250 ms %.0f MiB",
                OperatorProcess.HEAP_LIMIT,
                Math.max(heap[0], now),
                gcs,
                now,
                heap[1],
                hwm / 1024.0,
                rssPeakKib.get() / 1024.0);
      } else {
        memory = "operator in this JVM: heap and RSS not separable (run with --scale-operator-jvm)";
      }
      ctx.report()
          .section(
              ctx.section("scale-" + n),
              render(ctx, n, createdAfter, allReady, reconciles, agentCalls, memory));
    } finally {
      Rig.removeTree(dir);
    }
  }

  private static String name(int i) {
    return String.format("s-%04d", i);
  }

  private static String render(
      Ctx ctx,
      int n,
      double createdAfter,
      double allReady,
      long reconciles,
      long agentCalls,
      String memory) {
    StringBuilder md =
        new StringBuilder(
            String.format(
                Locale.ROOT, "### 3. Scale: %d disks, %d agents\n\n", n, ctx.scaleAgents()));
    md.append(
        String.format(
            Locale.ROOT,
            "%d VirtualDisks (`filesystem: %s`, %s) created by 4 threads as fast as the"
                + " API takes them, across %d agents (own images root each, one shared machine). The API server and the"
                + " agents run in the benchmark's JVM, the operator in its own.\n\n",
            n,
            ctx.scaleFs(),
            ctx.scaleSize(),
            ctx.scaleAgents()));
    md.append(
        "| all created after | all Ready after | disks Ready/s | reconciles | reconciles/s | operator→agent calls |\n");
    md.append("|---|---|---|---|---|---|\n");
    md.append(
        String.format(
            Locale.ROOT,
            "| %.1f s | **%.1f s** | %.1f | %d | %.1f | %d |\n\n",
            createdAfter,
            allReady,
            n / allReady,
            reconciles,
            reconciles / allReady,
            agentCalls));
    md.append("Memory: ").append(memory).append(".\n");
    md.append("\nReproduce: `")
        .append(ctx.command())
        .append("`\n\n")
        .append(Report.environment())
        .append('\n');
    return md.toString();
  }
}
