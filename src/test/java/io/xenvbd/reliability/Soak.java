package io.xenvbd.reliability;

import static org.assertj.core.api.Assertions.assertThat;
import static org.awaitility.Awaitility.await;

import io.fabric8.kubernetes.client.dsl.base.PatchContext;
import io.fabric8.kubernetes.client.dsl.base.PatchType;
import io.xenvbd.api.Conditions;
import io.xenvbd.api.Dom0Node;
import io.xenvbd.api.VirtualDisk;
import io.xenvbd.testing.Host;
import io.xenvbd.testing.Manifests;
import java.net.InetSocketAddress;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Random;
import java.util.TreeMap;
import java.util.concurrent.TimeUnit;

/**
 * N randomized create / grow / delete operations against three agent JVMs (each behind a relay that
 * can be cut) and an operator JVM, with faults among them: agent SIGKILL and restart, operator
 * SIGKILL and restart, an agent cut off for a few seconds. At the end the cluster must equal what
 * was asked.
 */
final class Soak implements AutoCloseable {
  record Figures(
      int operations, int creates, int grows, int deletes, int faults, int images, long seed) {}

  static final List<String> NODES = List.of("soak-1", "soak-2", "soak-3");
  final Rig rig;
  final Path tmp;
  final Map<String, AgentProcess> agents = new LinkedHashMap<>();
  final Map<String, TcpProxy> proxies = new LinkedHashMap<>();
  final Map<String, Path> roots = new LinkedHashMap<>();
  final Map<String, Long> desired = new TreeMap<>(); // name -> bytes
  final List<String> deleted = new ArrayList<>();
  final List<String> journal = new ArrayList<>();
  Process operator;

  Soak(Path tmp) throws Exception {
    this.tmp = tmp;
    rig = new Rig(tmp.resolve("rig"));
    for (String node : NODES) {
      int port = Rig.freePort();
      TcpProxy proxy = new TcpProxy(new InetSocketAddress("127.0.0.1", port));
      Path root = tmp.resolve(node);
      proxies.put(node, proxy);
      roots.put(node, root);
      agents.put(node, rig.agentProcessBehind(node, root, port, proxy));
    }
    operator = OperatorMain.launch(rig, tmp.resolve("operator.log"));
  }

  Figures run(int n, long seed) throws Exception {
    Random random = new Random(seed);
    int creates = 0, grows = 0, deletes = 0, faults = 0, next = 0;
    for (int op = 0; op < n; op++) {
      int dice = random.nextInt(100);
      // each kind of fault at least once (at a quarter, half and three quarters), more at random
      int planned = op == n / 4 ? 0 : op == n / 2 ? 1 : op == 3 * n / 4 ? 2 : -1;
      if (planned >= 0 || dice < 10) {
        faults++;
        fault(random, planned >= 0 ? planned : random.nextInt(3));
      } else if (dice < 55 || desired.size() < 2) {
        creates++;
        create("s" + (next++), random);
      } else if (dice < 78) {
        grows++;
        grow(pick(random));
      } else {
        deletes++;
        delete(pick(random));
      }
      Thread.sleep(random.nextInt(300));
    }
    heal();
    converge();
    return new Figures(n, creates, grows, deletes, faults, desired.size(), seed);
  }

  private String pick(Random random) {
    List<String> names = new ArrayList<>(desired.keySet());
    return names.get(random.nextInt(names.size()));
  }

  private void create(String name, Random random) {
    long mib = 32L * (1 + random.nextInt(3));
    String fs = List.of("ext2", "ext3", "ext4").get(random.nextInt(3));
    String method = List.of("Auto", "LoopMount", "Offline").get(random.nextInt(3));
    int node = random.nextInt(4);
    String nodeLine = node == 3 ? "" : "nodeName: " + NODES.get(node) + "\n";
    rig.apply(
        Manifests.disk(
            name,
            mib + "Mi",
            nodeLine
                + "filesystem: "
                + fs
                + "\npopulate: {method: "
                + method
                + ", createDirs: [/tmp]}\ntailor: {hostname: "
                + name
                + "}"));
    desired.put(name, mib << 20);
    journal.add(
        "create "
            + name
            + " "
            + mib
            + "Mi "
            + fs
            + " "
            + method
            + " "
            + (node == 3 ? "any" : NODES.get(node)));
  }

  private void grow(String name) {
    long bytes = desired.get(name) + (32L << 20);
    // as kubectl apply or patch does: a merge patch without resourceVersion, never a 409 from the
    // operator's writes
    rig.client
        .resources(VirtualDisk.class)
        .inNamespace("default")
        .withName(name)
        .patch(
            PatchContext.of(PatchType.JSON_MERGE),
            "{\"spec\":{\"size\":\"" + (bytes >> 20) + "Mi\"}}");
    desired.put(name, bytes);
    journal.add("grow " + name + " to " + (bytes >> 20) + "Mi");
  }

  private void delete(String name) {
    rig.delete(name);
    desired.remove(name);
    deleted.add(name);
    journal.add("delete " + name);
  }

  private void fault(Random random, int kind) throws Exception {
    String node = NODES.get(random.nextInt(NODES.size()));
    switch (kind) {
      case 0 -> {
        agents.get(node).kill9();
        journal.add("FAULT agent " + node + " SIGKILL");
        Thread.sleep(random.nextInt(2000));
        agents.get(node).start(rig.clientSsl);
      }
      case 1 -> {
        operator.destroyForcibly();
        operator.waitFor(30, TimeUnit.SECONDS);
        journal.add("FAULT operator SIGKILL");
        operator = OperatorMain.launch(rig, tmp.resolve("operator.log"));
      }
      default -> {
        proxies.get(node).down();
        journal.add("FAULT agent " + node + " unreachable");
        Thread.sleep(1000 + random.nextInt(3000));
        proxies.get(node).up();
      }
    }
  }

  private void heal() {
    proxies.values().forEach(TcpProxy::up);
    agents
        .values()
        .forEach(
            a -> {
              if (!a.alive()) a.start(rig.clientSsl);
            });
  }

  /** Waits until the cluster equals what was asked, then checks every node as an admin would. */
  void converge() {
    await()
        .atMost(Duration.ofMinutes(10))
        .pollInterval(Duration.ofSeconds(1))
        .untilAsserted(
            () -> {
              for (String name : deleted)
                assertThat(rig.get(name)).as("deleted disk %s", name).isNull();
              for (var e : desired.entrySet()) {
                VirtualDisk d = rig.get(e.getKey());
                assertThat(d).isNotNull();
                assertThat(Rig.condition(d, Conditions.READY))
                    .as(Rig.describe(d))
                    .isNotNull()
                    .matches(c -> Conditions.TRUE.equals(c.getStatus()), "Ready=True");
                assertThat(d.getStatus().observedGeneration())
                    .isEqualTo(d.getMetadata().getGeneration());
                assertThat(d.getStatus().capacityBytes())
                    .as("capacity of %s", e.getKey())
                    .isEqualTo(e.getValue());
              }
            });
    Map<String, List<String>> expected = new TreeMap<>();
    NODES.forEach(n -> expected.put(n, new ArrayList<>()));
    for (String name : desired.keySet()) {
      VirtualDisk d = rig.get(name);
      expected.get(d.getStatus().nodeName()).add("default/" + name + ".img");
      Path image = Path.of(d.getStatus().path());
      Host.assertFsckClean(image);
      assertThat(Host.cat(image, "/etc/hostname")).isEqualTo(name + "\n");
    }
    for (String node : NODES) {
      Path root = roots.get(node);
      assertThat(Host.images(root))
          .as("images on %s", node)
          .containsExactlyInAnyOrderElementsOf(expected.get(node));
      assertThat(Host.leftovers(root)).as("temporary files on %s", node).isEmpty();
      assertThat(Host.loopsUnder(root)).as("loop devices on %s", node).isEmpty();
      assertThat(Host.mountsUnder(root)).as("mounts on %s", node).isEmpty();
    }
    await()
        .atMost(Duration.ofSeconds(30))
        .untilAsserted(
            () -> {
              for (String node : NODES) {
                Dom0Node n = rig.client.resources(Dom0Node.class).withName(node).get();
                assertThat(n.getStatus().orphans()).as("orphans on %s", node).isNullOrEmpty();
              }
            });
  }

  @Override
  public void close() {
    if (operator != null) operator.destroyForcibly();
    rig.close();
    proxies.values().forEach(TcpProxy::close);
    roots.values().forEach(Host::releaseAll);
  }
}
