package io.xenvbd.bench;

import io.xenvbd.agent.Agent;
import io.xenvbd.agent.AgentConfig;
import io.xenvbd.ca.CertificateAuthority;
import io.xenvbd.client.AgentTrust;
import io.xenvbd.client.HttpAgentClient;
import io.xenvbd.client.NodeTokens;
import io.xenvbd.client.TransferClient;
import io.xenvbd.disk.TransferReceiver;
import io.xenvbd.protocol.AgentClient;
import io.xenvbd.protocol.AgentClientFactory;
import io.xenvbd.protocol.DiskSpec;
import io.xenvbd.protocol.DiskState;
import io.xenvbd.protocol.PutDiskRequest;
import io.xenvbd.protocol.TransferTicket;
import io.xenvbd.testing.Exec;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.Locale;
import java.util.UUID;

/**
 * Benchmark 4(c): a cross-node clone against {@code cp --sparse=always} of the same image on one
 * node. Two real agents in this JVM over HTTPS, each with its own images root, certificate (from
 * one CA, naming its node) and token, as the operator tests run them; the source is a 2 GiB ext4
 * disk holding the benchmark's source tree. Per round, alternated: the stream alone (ticket, fetch
 * over TLS, extents written, SHA-256 checked, fsync), {@code cp --sparse=always} + {@code sync -f}
 * of the same image on node-a's root, and a whole cross-node clone build (stream, local clone, new
 * UUID and hostname, e2fsck, publish) to Ready.
 */
final class CrossNodeBench {
  private CrossNodeBench() {}

  static void run(Ctx ctx) throws Exception {
    Path dir = ctx.dir("crossnode");
    CertificateAuthority ca = CertificateAuthority.create(dir.resolve("ca"));
    Path tokens = Files.createDirectories(dir.resolve("tokens"));
    List<Agent> agents = new ArrayList<>();
    try {
      for (String node : List.of("node-a", "node-b")) {
        String token = "token-" + UUID.randomUUID();
        Files.writeString(tokens.resolve(node), token);
        CertificateAuthority.Issued tls =
            ca.issue(dir.resolve("certs").resolve(node), List.of(node, "127.0.0.1"));
        agents.add(
            Agent.start(
                AgentConfig.localPlain(
                        node,
                        Files.createDirectories(dir.resolve(node)),
                        List.of(ctx.source()),
                        token)
                    .tls(tls.cert(), tls.key())
                    .peerCa(ca.caCert())
                    .workers(2)
                    .build(),
                null));
      }
      AgentClientFactory clients =
          HttpAgentClient.factory(
              NodeTokens.perNode(tokens, "unused"),
              AgentTrust.fromCa(ca.caCert(), AgentTrust.Identity.NODE));
      String endpointA = agents.get(0).endpoint().toString();
      AgentClient a = clients.forNode("node-a", endpointA);
      AgentClient b = clients.forNode("node-b", agents.get(1).endpoint().toString());
      DiskSpec base =
          new DiskSpec(
              null,
              "2Gi",
              DiskSpec.Filesystem.ext4,
              new DiskSpec.Populate(
                  List.of(new DiskSpec.HostPath(ctx.source().toString(), "/data")),
                  null,
                  null,
                  null,
                  null),
              new DiskSpec.Tailor("base", null, null),
              null,
              null,
              null);
      a.putDisk("bench", "base", new PutDiskRequest("uid-base", base));
      DiskState source = await(a, "base", 900);
      Path image = Path.of(source.path());
      long data = Measure.allocated(image);
      TransferClient fetch =
          TransferClient.to(
              AgentTrust.fromCa(ca.caCert(), AgentTrust.Identity.NODE),
              "node-a",
              endpointA,
              Duration.ofSeconds(30));

      List<Double> stream = new ArrayList<>();
      List<Double> cp = new ArrayList<>();
      List<Double> clone = new ArrayList<>();
      long received = 0;
      long cloneAllocated = 0;
      for (int round = 0; round <= ctx.lastRound(); round++) {
        boolean measured = round >= ctx.firstRound();
        TransferTicket t =
            a.transferTicket(new TransferTicket.Request("bench", "base", "uid-base"));
        Path target = dir.resolve("node-b").resolve(".bench-stream-" + round + ".tmp");
        long t0 = System.nanoTime();
        TransferReceiver.receive(
            fetch::open, t.ticket(), target, 2L << 30, "ext4", (s, d, tot, p) -> {});
        double s = (System.nanoTime() - t0) / 1e9;
        received = Measure.allocated(target);
        Files.delete(target);

        Path copy = dir.resolve("node-a").resolve(".bench-cp-" + round + ".tmp");
        t0 = System.nanoTime();
        Exec.run("cp", "--sparse=always", image.toString(), copy.toString()).ok();
        Exec.run("sync", "-f", copy.toString()).ok();
        double c = (System.nanoTime() - t0) / 1e9;
        Files.delete(copy);

        String name = "clone-" + round;
        TransferTicket t2 =
            a.transferTicket(new TransferTicket.Request("bench", "base", "uid-base"));
        DiskSpec spec =
            new DiskSpec(
                "node-b",
                "2Gi",
                DiskSpec.Filesystem.ext4,
                new DiskSpec.Populate(
                    null,
                    null,
                    new DiskSpec.CloneFrom(
                        "base", "uid-base", new DiskSpec.Remote("node-a", endpointA, t2.ticket())),
                    null,
                    null),
                new DiskSpec.Tailor(name, null, null),
                null,
                null,
                null);
        t0 = System.nanoTime();
        b.putDisk("bench", name, new PutDiskRequest("uid-" + name, spec));
        DiskState done = await(b, name, 900);
        double e = (System.nanoTime() - t0) / 1e9;
        cloneAllocated = done.allocatedBytes();
        b.deleteDisk("bench", name, "uid-" + name);
        if (measured) {
          stream.add(s);
          cp.add(c);
          clone.add(e);
        }
        System.out.printf(
            Locale.ROOT,
            "crossnode round %d: stream %.2f s, cp %.2f s, clone %.2f s%n",
            round,
            s,
            c,
            e);
      }
      ctx.report()
          .section(
              "crossnode",
              render(
                  ctx,
                  source.capacityBytes(),
                  data,
                  received,
                  cloneAllocated,
                  Stats.of(stream),
                  Stats.of(cp),
                  Stats.of(clone)));
    } finally {
      for (Agent agent : agents) agent.close();
      Rig.removeTree(dir);
    }
  }

  private static DiskState await(AgentClient agent, String name, int seconds)
      throws InterruptedException {
    long until = System.nanoTime() + seconds * 1_000_000_000L;
    while (System.nanoTime() < until) {
      DiskState s = agent.getDisk("bench", name).orElse(null);
      if (s != null && s.phase() == DiskState.Phase.Ready) return s;
      if (s != null && s.phase() == DiskState.Phase.Failed)
        throw new IllegalStateException(name + ": " + s.error());
      Thread.sleep(50);
    }
    throw new IllegalStateException(name + " not Ready after " + seconds + " s");
  }

  private static String render(
      Ctx ctx,
      long size,
      long data,
      long received,
      long cloneAllocated,
      Stats stream,
      Stats cp,
      Stats clone) {
    double mib = data / 1048576.0;
    StringBuilder md = new StringBuilder("## 7. Cross-node clone (issue 16, 4(c))\n\n");
    md.append(
        String.format(
            Locale.ROOT,
            "The source: a 2 GiB ext4 disk holding the source tree, %.0f MiB allocated"
                + " (apparent %.0f MiB). Two agents in one JVM over HTTPS on 127.0.0.1 (so the network is loopback; TLS,"
                + " the extent stream, the SHA-256 and the writes are real). %d measured rounds after a warm-up,"
                + " alternated. MB/s are MiB of allocated data per second.\n\n",
            mib,
            size / 1048576.0,
            stream.n()));
    md.append("| what | wall time, median (range) | MiB/s (median) |\n|---|---|---|\n");
    md.append(
        String.format(
            Locale.ROOT,
            "| the stream alone: ticket, fetch over TLS, extents written, SHA-256, fsync | %s | %.0f |\n",
            stream.medianRange("%.2f s"),
            mib / stream.median()));
    md.append(
        String.format(
            Locale.ROOT,
            "| `cp --sparse=always` + `sync -f` of the same image on one node | %s | %.0f |\n",
            cp.medianRange("%.2f s"),
            mib / cp.median()));
    md.append(
        String.format(
            Locale.ROOT,
            "| a whole cross-node clone build to Ready (stream, local clone, new UUID and hostname, e2fsck, publish) | %s | %.0f |\n",
            clone.medianRange("%.2f s"),
            mib / clone.median()));
    md.append(
        String.format(
            Locale.ROOT,
            "\nStream / cp: **%.2f×** the time. Holes kept: the streamed file"
                + " allocates %.0f MiB, the source %.0f MiB; the published clone %.0f MiB.\n",
            stream.median() / cp.median(),
            received / 1048576.0,
            mib,
            cloneAllocated / 1048576.0));
    md.append("\nReproduce: `")
        .append(ctx.command())
        .append("`\n\n")
        .append(Report.environment())
        .append('\n');
    return md.toString();
  }
}
