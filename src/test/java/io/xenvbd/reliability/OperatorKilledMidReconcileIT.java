package io.xenvbd.reliability;

import static org.assertj.core.api.Assertions.assertThat;
import static org.awaitility.Awaitility.await;

import io.xenvbd.agent.Agent;
import io.xenvbd.api.VirtualDisk;
import io.xenvbd.api.VirtualDiskStatus;
import io.xenvbd.testing.Host;
import io.xenvbd.testing.Manifests;
import io.xenvbd.testing.RequiresRoot;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.attribute.BasicFileAttributes;
import java.time.Duration;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.concurrent.TimeUnit;
import java.util.function.BooleanSupplier;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * The operator's JVM SIGKILLed at several points of its work (first status written, builds half
 * done, idle, deletions under way) and started again: every disk converges, each image is built
 * exactly once (the agent's build counter, the image's inode and mtime) and deleted exactly once.
 */
@RequiresRoot
class OperatorKilledMidReconcileIT {
  static final List<String> DISKS = List.of("op-a", "op-b", "op-c");
  @TempDir Path tmp;
  Rig rig;
  Process operator;
  Path root;
  int kills;

  @AfterEach
  void stop() {
    if (operator != null) operator.destroyForcibly();
    if (rig != null) rig.close();
    if (root != null) Host.releaseAll(root);
  }

  @Test
  void operatorKilledAtFourPointsConvergesWithoutDuplicateWork() throws Exception {
    rig = new Rig(tmp.resolve("rig"));
    root = tmp.resolve("images");
    Path source = SourceTree.make(tmp.resolve("tree"), 24, 1 << 20);
    Agent agent = rig.agent("node-o", root, List.of(source));
    int agentPort = agent.address().getPort();
    Path log = tmp.resolve("operator.log");
    operator = OperatorMain.launch(rig, log);
    for (String name : DISKS) {
      rig.apply(
          Manifests.disk(
              name,
              "256Mi",
              """
          nodeName: node-o
          populate: {hostPaths: [{path: %s, target: /srv}]}
          tailor: {hostname: %s}
          """
                  .formatted(source, name)));
    }

    killWhen(
        log, () -> DISKS.stream().anyMatch(n -> phase(n) == VirtualDiskStatus.Phase.Provisioning));
    killWhen(log, () -> DISKS.stream().anyMatch(n -> phase(n) == VirtualDiskStatus.Phase.Ready));
    for (String name : DISKS) rig.awaitReady(name, Duration.ofSeconds(120));
    Map<String, String> identity = new HashMap<>();
    for (String name : DISKS) identity.put(name, identity(name));

    killWhen(log, () -> true); // idle: everything Ready
    Thread.sleep(
        Rig.fastOperator().readyRecheck().toMillis()
            + 2000); // a full periodic recheck after the restart
    for (String name : DISKS) {
      VirtualDisk d = rig.awaitReady(name, Duration.ofSeconds(30));
      assertThat(identity(name))
          .as("image of %s rebuilt or replaced", name)
          .isEqualTo(identity.get(name));
      Host.assertFsckClean(Path.of(d.getStatus().path()));
      assertThat(Host.cat(Path.of(d.getStatus().path()), "/etc/hostname")).isEqualTo(name + "\n");
    }
    String metrics = AgentMetrics.scrape(rig.clientSsl, agentPort);
    assertThat(AgentMetrics.operations(metrics, "build"))
        .as("builds for 3 disks through 3 operator kills")
        .isEqualTo(3);
    assertThat(AgentMetrics.operations(metrics, "build", "success")).isEqualTo(3);

    for (String name : DISKS) rig.delete(name);
    killWhen(
        log,
        () ->
            DISKS.stream()
                .anyMatch(
                    n ->
                        rig.get(n) == null
                            || Files.notExists(root.resolve("default/" + n + ".img"))));
    for (String name : DISKS) rig.awaitGone(name, Duration.ofSeconds(60));
    assertThat(Host.images(root)).isEmpty();
    assertThat(Host.leftovers(root)).isEmpty();
    assertThat(Host.loopsUnder(root)).isEmpty();
    assertThat(Host.mountsUnder(root)).isEmpty();
    metrics = AgentMetrics.scrape(rig.clientSsl, agentPort);
    assertThat(AgentMetrics.operations(metrics, "build")).isEqualTo(3);
    assertThat(AgentMetrics.operations(metrics, "delete", "success"))
        .as("deletes")
        .isGreaterThanOrEqualTo(3);
    assertThat(kills).isEqualTo(4);
    System.out.println("[reliability] operator SIGKILLs survived: " + kills);
  }

  VirtualDiskStatus.Phase phase(String name) {
    VirtualDisk d = rig.get(name);
    return d == null || d.getStatus() == null ? null : d.getStatus().phase();
  }

  /** inode, size and mtime of the image: a rebuild or a copy changes at least one. */
  String identity(String name) throws Exception {
    BasicFileAttributes a =
        Files.readAttributes(root.resolve("default/" + name + ".img"), BasicFileAttributes.class);
    return a.fileKey() + " " + a.size() + " " + a.lastModifiedTime();
  }

  /** Waits for the condition, SIGKILLs the operator JVM, and starts a new one. */
  void killWhen(Path log, BooleanSupplier condition) throws Exception {
    await()
        .atMost(Duration.ofSeconds(120))
        .pollInterval(Duration.ofMillis(20))
        .until(condition::getAsBoolean);
    operator.destroyForcibly(); // SIGKILL
    assertThat(operator.waitFor(30, TimeUnit.SECONDS)).isTrue();
    kills++;
    operator = OperatorMain.launch(rig, log);
  }
}
