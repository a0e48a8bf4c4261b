package io.xenvbd.bench;

import io.fabric8.kubernetes.client.KubernetesClient;
import io.xenvbd.api.VirtualDisk;
import io.xenvbd.kube.EmbeddedApiServer;
import java.util.ArrayList;
import java.util.List;
import java.util.Locale;

/**
 * Profile for benchmark 3: the embedded API server alone (no operator, no agent, no watch of ours),
 * creating VirtualDisks one after another, timed per batch, to tell whether create cost grows with
 * the number of stored objects.
 */
final class ApiBench {
  private ApiBench() {}

  static void run(Ctx ctx) {
    int n = Math.max(ctx.scaleDisks(), 100);
    int batch = Math.max(n / 10, 1);
    List<String> rows = new ArrayList<>();
    try (EmbeddedApiServer api = EmbeddedApiServer.startWithProjectCrds(0);
        KubernetesClient client = Clients.client(api, null)) {
      Disks.create(client, Disks.empty("warm-up", "16Mi", "none"));
      long t = System.nanoTime();
      for (int i = 0; i < n; i++) {
        Disks.create(
            client, Disks.empty(String.format("a-%05d", i), ctx.scaleSize(), ctx.scaleFs()));
        if ((i + 1) % batch == 0) {
          long now = System.nanoTime();
          rows.add(
              String.format(
                  Locale.ROOT, "| %d–%d | %.1f |", i + 2 - batch, i + 1, (now - t) / 1e6 / batch));
          t = now;
        }
      }
      long l0 = System.nanoTime();
      int listed =
          client.resources(VirtualDisk.class).inNamespace("default").list().getItems().size();
      double listMs = (System.nanoTime() - l0) / 1e6;
      StringBuilder md = new StringBuilder("### Profile: the embedded API server alone\n\n");
      md.append(
          String.format(
              Locale.ROOT,
              "%d VirtualDisks created one after another by one client against"
                  + " `EmbeddedApiServer` with nothing else running (no operator, agent or watch). Mean time per create, by"
                  + " batch of %d:\n\n| creates | ms per create |\n|---|---|\n",
              n,
              batch));
      rows.forEach(r -> md.append(r).append('\n'));
      md.append(String.format(Locale.ROOT, "\nA list of all %d: %.0f ms.\n", listed, listMs));
      md.append("\nReproduce: `")
          .append(ctx.command())
          .append("`\n\n")
          .append(Report.environment())
          .append('\n');
      ctx.report().section("api-" + n, md.toString());
    }
  }
}
