package io.xenvbd.operator;

import static org.assertj.core.api.Assertions.assertThat;
import static org.awaitility.Awaitility.await;

import io.fabric8.kubernetes.api.model.Condition;
import io.fabric8.kubernetes.client.dsl.base.PatchContext;
import io.fabric8.kubernetes.client.dsl.base.PatchType;
import io.xenvbd.api.Conditions;
import io.xenvbd.api.Dom0Node;
import io.xenvbd.api.Populate;
import io.xenvbd.api.Reasons;
import io.xenvbd.api.Tailor;
import io.xenvbd.api.VirtualDisk;
import io.xenvbd.api.VirtualDiskSpec;
import io.xenvbd.api.VirtualDiskStatus;
import io.xenvbd.protocol.Protocol;
import io.xenvbd.testing.Exec;
import io.xenvbd.testing.Host;
import io.xenvbd.testing.RequiresRoot;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.List;
import java.util.Random;
import java.util.concurrent.CopyOnWriteArrayList;
import java.util.concurrent.atomic.AtomicBoolean;
import java.util.stream.Stream;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * Draining a Dom0Node (spec.drain) with two real agents over real HTTPS and the operator against
 * the mock API: each disk's own image is streamed to the other node, switched there, and only then
 * deleted on the drained node; a disk in use waits; a target that fails leaves the disk where it
 * was; the Dom0Node's Drained condition follows.
 */
@RequiresRoot
class DrainTest {
  private static final String NS = "ns1";
  private static final long MI = 1L << 20;
  static MockApi api;
  OperatorHarness h;
  RealNodes nodes;
  @TempDir Path dir;

  @BeforeAll
  static void startApi() {
    api = MockApi.start();
  }

  @AfterAll
  static void stopApi() {
    api.close();
  }

  @BeforeEach
  void start() throws IOException {
    h = new OperatorHarness(api);
    nodes = new RealNodes(dir, api.client);
    for (String n : List.of("node-a", "node-b")) nodes.start(n);
    awaitNodes(2);
    Path tree = Files.createDirectories(nodes.sources().resolve("tree"));
    byte[] big = new byte[24 * (int) MI];
    new Random(7).nextBytes(big);
    Files.write(tree.resolve("big"), big);
    h.start(nodes.clients());
  }

  @AfterEach
  void stop() {
    h.stopOperator();
    nodes.close();
    h.close();
    Host.releaseAll(dir);
  }

  @Test
  void aDrainMovesTheImageByteForByteDeletesTheOldOneOnlyAfterTheSwitchAndReportsDrained()
      throws Exception {
    VirtualDisk web = onNodeA("web");
    Path source = nodes.root("node-a").resolve(NS + "/web.img");
    Exec.ok("debugfs", "-w", "-R", "write " + canary() + " /canary", source.toString());
    String before = sha256(source);
    VirtualDisk pinned = ready(h.create(disk("pinned", "node-a")));

    // every 20 ms: once the old image is gone, the disk must already say it is on node-b
    List<String> violations = new CopyOnWriteArrayList<>();
    AtomicBoolean watching = new AtomicBoolean(true);
    List<String> phases = new CopyOnWriteArrayList<>();
    Thread watcher =
        new Thread(
            () -> {
              while (watching.get()) {
                boolean sourceThere = Files.exists(source);
                VirtualDiskStatus st = h.get(NS, "web").getStatus();
                if (st.phase() != null) phases.add(st.phase().name());
                if (!sourceThere && !"node-b".equals(st.nodeName()))
                  violations.add("old image gone while status.nodeName is " + st.nodeName());
                try {
                  Thread.sleep(20);
                } catch (InterruptedException e) {
                  return;
                }
              }
            });
    watcher.start();
    try {
      drain("node-a", true);
      VirtualDisk moved =
          h.awaitCondition(NS, "web", Conditions.MOVED, Conditions.TRUE, Reasons.MOVED);
      assertThat(moved.getStatus().nodeName()).isEqualTo("node-b");
      assertThat(moved.getStatus().move()).isNull();
      assertThat(h.condition(moved, Conditions.READY).getStatus()).isEqualTo(Conditions.TRUE);
      Path target = nodes.root("node-b").resolve(NS + "/web.img");
      assertThat(moved.getStatus().path()).isEqualTo(target.toString());
      assertThat(moved.getStatus().xen().disk()).endsWith("target=" + target);
      assertThat(moved.getStatus().filesystemUUID()).isEqualTo(web.getStatus().filesystemUUID());
      assertThat(sha256(target)).isEqualTo(before);
      assertThat(Host.cat(target, "/canary")).isEqualTo("canary of the drain\n");
      await().atMost(Duration.ofSeconds(10)).until(() -> !Files.exists(source));
      assertThat(nodes.images("node-a")).containsExactly(NS + "/pinned.img");

      // the pinned disk stays, says why, and keeps the node from being drained
      VirtualDisk p =
          h.awaitCondition(NS, "pinned", Conditions.MOVED, Conditions.FALSE, Reasons.PINNED);
      assertThat(p.getStatus().nodeName()).isEqualTo("node-a");
      assertThat(h.condition(p, Conditions.MOVED).getMessage()).contains("spec.nodeName", "clone");
      awaitDrained(
          "node-a",
          Conditions.FALSE,
          Reasons.DRAINING,
          "1 disk is left",
          "1 pinned",
          NS + "/pinned");

      api.client.resources(VirtualDisk.class).inNamespace(NS).withName("pinned").delete();
      Condition drained = awaitDrained("node-a", Conditions.TRUE, Reasons.DRAINED);
      assertThat(drained.getMessage()).contains("no disk is left");
    } finally {
      watching.set(false);
      watcher.join();
    }
    assertThat(violations).isEmpty();
    assertThat(phases).contains("Ready");
    assertThat(pinned.getStatus().nodeName()).isEqualTo("node-a");
    // the drained node takes no new disk
    VirtualDisk fresh = ready(h.create(disk("fresh", null)));
    assertThat(fresh.getStatus().nodeName()).isEqualTo("node-b");
  }

  @Test
  void aDiskHeldByALoopDeviceStaysUntilReleasedAndTheNodeSaysWhichHolderToStop() throws Exception {
    onNodeA("held");
    Path source = nodes.root("node-a").resolve(NS + "/held.img");
    String before = sha256(source);
    String loop = Exec.ok("losetup", "-f", "--show", "-r", source.toString()).strip();
    try {
      drain("node-a", true);
      VirtualDisk waiting =
          h.awaitCondition(NS, "held", Conditions.MOVED, Conditions.FALSE, Reasons.IMAGE_IN_USE);
      assertThat(h.condition(waiting, Conditions.MOVED).getMessage())
          .contains(loop, "Stop the guest");
      assertThat(waiting.getStatus().nodeName()).isEqualTo("node-a");
      assertThat(h.condition(waiting, Conditions.READY).getStatus()).isEqualTo(Conditions.TRUE);
      awaitDrained(
          "node-a",
          Conditions.FALSE,
          Reasons.DRAINING,
          "1 disk is left",
          NS + "/held",
          "ImageInUse",
          loop);
      // a while later it still waits, and nothing was made on node-b
      Thread.sleep(1500);
      assertThat(h.get(NS, "held").getStatus().nodeName()).isEqualTo("node-a");
      assertThat(nodes.images("node-b")).isEmpty();
      assertThat(sha256(source)).isEqualTo(before);
    } finally {
      Exec.run("losetup", "-d", loop);
    }
    VirtualDisk moved =
        h.awaitCondition(NS, "held", Conditions.MOVED, Conditions.TRUE, Reasons.MOVED);
    assertThat(moved.getStatus().nodeName()).isEqualTo("node-b");
    assertThat(sha256(nodes.root("node-b").resolve(NS + "/held.img"))).isEqualTo(before);
    awaitDrained("node-a", Conditions.TRUE, Reasons.DRAINED);
  }

  @Test
  void aTargetThatFailsMidCopyLeavesTheDiskReadyOnItsNodeWithItsImageIntact() throws Exception {
    onNodeA("keep");
    Path source = nodes.root("node-a").resolve(NS + "/keep.img");
    String before = sha256(source);
    // node-b's images root becomes an 8 MiB tmpfs: the stream runs out of room after a few MiB
    nodes.stop("node-b");
    Path rootB = nodes.root("node-b");
    Exec.ok("mount", "-t", "tmpfs", "-o", "size=8m", "tmpfs", rootB.toString());
    try {
      nodes.start("node-b");
      patchSpec("node-b", "{\"spec\":{\"overcommitRatio\":1000}}");
      awaitFresh("node-b");
      drain("node-a", true);
      VirtualDisk failed =
          h.awaitCondition(NS, "keep", Conditions.MOVED, Conditions.FALSE, Reasons.MOVE_FAILED);
      assertThat(h.condition(failed, Conditions.MOVED).getMessage())
          .contains("node-b", "intact", "retried");
      assertThat(failed.getStatus().nodeName()).isEqualTo("node-a");
      assertThat(failed.getStatus().path()).isEqualTo(source.toString());
      assertThat(h.condition(failed, Conditions.READY).getStatus()).isEqualTo(Conditions.TRUE);
      assertThat(sha256(source)).isEqualTo(before);
      Host.assertFsckClean(source);
      // called off: whatever node-b had of it is gone, and the disk stays as it was
      drain("node-a", false);
      await()
          .atMost(Duration.ofSeconds(30))
          .until(() -> h.condition(h.get(NS, "keep"), Conditions.MOVED) == null);
      await().atMost(Duration.ofSeconds(10)).until(() -> leftovers(rootB).isEmpty());
      assertThat(nodes.images("node-b")).isEmpty();
    } finally {
      nodes.stop("node-b");
      Exec.run("umount", "-l", rootB.toString());
    }
    assertThat(h.get(NS, "keep").getStatus().nodeName()).isEqualTo("node-a");
    assertThat(sha256(source)).isEqualTo(before);
  }

  @Test
  void aMoveToAnAgentThatReadsAnOlderStreamIsAgentTooOldAndNothingIsCopied() throws Exception {
    onNodeA("old");
    nodes.start("node-c", Protocol.simulated(6, Protocol.MIN_SUPPORTED, Protocol.Field.TABLE));
    awaitNodes(3);
    cordon("node-b", true);
    drain("node-a", true);
    VirtualDisk d =
        h.awaitCondition(NS, "old", Conditions.MOVED, Conditions.FALSE, Reasons.AGENT_TOO_OLD);
    assertThat(h.condition(d, Conditions.MOVED).getMessage())
        .contains("node-c speaks protocol 6", "needs protocol " + Protocol.STREAM_SINCE);
    assertThat(d.getStatus().nodeName()).isEqualTo("node-a");
    assertThat(nodes.images("node-c")).isEmpty();
    assertThat(nodes.images("node-a")).containsExactly(NS + "/old.img");
  }

  // --- helpers ---

  /** A disk the operator places, on node-a: node-b is cordoned while it is placed. */
  private VirtualDisk onNodeA(String name) {
    cordon("node-b", true);
    try {
      VirtualDisk d = ready(h.create(disk(name, null)));
      assertThat(d.getStatus().nodeName()).isEqualTo("node-a");
      return d;
    } finally {
      cordon("node-b", false);
    }
  }

  private void cordon(String node, boolean on) {
    patchSpec(node, "{\"spec\":{\"unschedulable\":" + on + "}}");
  }

  private void drain(String node, boolean on) {
    patchSpec(node, "{\"spec\":{\"drain\":" + on + "}}");
  }

  private void patchSpec(String node, String patch) {
    api.client
        .resources(Dom0Node.class)
        .withName(node)
        .patch(PatchContext.of(PatchType.JSON_MERGE), patch);
  }

  private Condition awaitDrained(String node, String status, String reason, String... saying) {
    return await()
        .atMost(Duration.ofSeconds(60))
        .pollInterval(Duration.ofMillis(200))
        .until(
            () -> {
              Dom0Node n = api.client.resources(Dom0Node.class).withName(node).get();
              return Conditions.find(n.getStatus().conditions(), Conditions.DRAINED).orElse(null);
            },
            c ->
                c != null
                    && status.equals(c.getStatus())
                    && reason.equals(c.getReason())
                    && Stream.of(saying).allMatch(c.getMessage()::contains));
  }

  private void awaitNodes(int count) {
    await()
        .atMost(Duration.ofSeconds(10))
        .until(
            () ->
                api.client.resources(Dom0Node.class).list().getItems().stream()
                        .filter(n -> n.getStatus() != null && n.getStatus().storage() != null)
                        .count()
                    == count);
  }

  /** Until the node's heartbeat reports the images root the agent has now. */
  private void awaitFresh(String node) {
    await()
        .atMost(Duration.ofSeconds(10))
        .until(
            () -> {
              var st = api.client.resources(Dom0Node.class).withName(node).get().getStatus();
              return st.storage().capacityBytes() <= 8 * MI;
            });
  }

  private VirtualDisk ready(VirtualDisk created) {
    String name = created.getMetadata().getName();
    await()
        .atMost(Duration.ofSeconds(180))
        .pollInterval(Duration.ofMillis(200))
        .until(
            () -> {
              var c = h.condition(h.get(NS, name), Conditions.READY);
              return c != null && Conditions.TRUE.equals(c.getStatus());
            });
    return h.get(NS, name);
  }

  private VirtualDisk disk(String name, String node) {
    Populate populate =
        new Populate(
            List.of(new Populate.HostPath(nodes.sources().resolve("tree").toString(), "/data")),
            null,
            null,
            List.of("/etc"),
            null);
    return Fixtures.disk(
        NS,
        name,
        new VirtualDiskSpec(
            node,
            "128Mi",
            VirtualDiskSpec.Filesystem.ext4,
            populate,
            new Tailor(name, null, null),
            null,
            null,
            null));
  }

  private Path canary() throws IOException {
    Path f = dir.resolve("canary.txt");
    Files.writeString(f, "canary of the drain\n");
    return f;
  }

  private static List<Path> leftovers(Path root) throws IOException {
    try (Stream<Path> walk = Files.walk(root)) {
      return walk.filter(Files::isRegularFile)
          .filter(
              p -> {
                String f = p.getFileName().toString();
                return !(f.endsWith(".img") || f.endsWith(".json") || f.equals(".xenvbd.lock"));
              })
          .toList();
    }
  }

  private static String sha256(Path file) {
    return Exec.ok("sha256sum", file.toString()).split(" ")[0];
  }
}
