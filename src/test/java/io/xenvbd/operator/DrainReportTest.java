package io.xenvbd.operator;

import static org.assertj.core.api.Assertions.assertThat;

import io.fabric8.kubernetes.api.model.Condition;
import io.fabric8.kubernetes.api.model.ObjectMetaBuilder;
import io.fabric8.kubernetes.client.KubernetesClient;
import io.xenvbd.api.Conditions;
import io.xenvbd.api.Dom0Node;
import io.xenvbd.api.Dom0NodeSpec;
import io.xenvbd.api.Reasons;
import io.xenvbd.api.VirtualDisk;
import io.xenvbd.api.VirtualDiskStatus;
import io.xenvbd.kube.EmbeddedApiServer;
import java.time.Clock;
import java.util.List;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;

/**
 * The Dom0Node's Drained condition, written from the disks' status, against the embedded API (which
 * merges a patch's lists as a real apiserver does and enforces the resourceVersion it carries).
 */
class DrainReportTest {
  static EmbeddedApiServer api;
  static KubernetesClient client;

  @BeforeAll
  static void startApi() {
    api = EmbeddedApiServer.startWithProjectCrds(0);
    client = api.client();
  }

  @AfterAll
  static void stopApi() {
    client.close();
    api.close();
  }

  @Test
  void aDrainingNodeSaysHowManyDisksAreLeftAndWhyThenThatItIsDrainedAndLosesItWhenUndrained() {
    Dom0Node a = Fixtures.node("node-a", 1L << 30, 0);
    a.setSpec(new Dom0NodeSpec(false, 1.0, null, null, true));
    a.setStatus(
        new io.xenvbd.api.Dom0NodeStatus(
            a.getStatus().agent(),
            a.getStatus().loopDevices(),
            a.getStatus().storage(),
            0,
            List.of(),
            Conditions.set(
                null,
                Conditions.READY,
                Conditions.TRUE,
                Reasons.HEARTBEAT,
                "serving",
                1L,
                Clock.systemUTC())));
    put(a);
    VirtualDisk copying = placed("copying", "node-a");
    copying.setStatus(
        copying
            .getStatus()
            .moving(
                new VirtualDiskStatus.Move(
                    "node-a",
                    "node-b",
                    VirtualDiskStatus.MoveStage.Copying,
                    "2026-12-02T00:00:00Z"),
                VirtualDiskStatus.Phase.Moving,
                null,
                List.of()));
    VirtualDisk held = placed("held", "node-a");
    held.setStatus(
        held.getStatus()
            .moving(
                null,
                VirtualDiskStatus.Phase.Ready,
                null,
                Conditions.set(
                    null,
                    Conditions.MOVED,
                    Conditions.FALSE,
                    Reasons.IMAGE_IN_USE,
                    "in use: /dev/loop5",
                    1L,
                    Clock.systemUTC())));
    VirtualDisk elsewhere = placed("elsewhere", "node-b");
    List<VirtualDisk> disks = new java.util.ArrayList<>(List.of(copying, held, elsewhere));
    ClusterView view =
        new ClusterView() {
          @Override
          public List<Dom0Node> nodes() {
            return client.resources(Dom0Node.class).list().getItems();
          }

          @Override
          public List<VirtualDisk> disks() {
            return disks;
          }
        };
    DrainReport report = new DrainReport(client, view, Clock.systemUTC());

    report.run();
    Condition c = drained();
    assertThat(c.getStatus()).isEqualTo(Conditions.FALSE);
    assertThat(c.getReason()).isEqualTo(Reasons.DRAINING);
    assertThat(c.getMessage())
        .contains("2 disks are left on node node-a", "1 being copied", "ns1/held", "/dev/loop5")
        .doesNotContain("elsewhere");
    // the agent's own condition is kept
    assertThat(Conditions.find(node().getStatus().conditions(), Conditions.READY)).isPresent();

    disks.remove(copying);
    disks.remove(held);
    report.run();
    assertThat(drained().getStatus())
        .as(String.valueOf(node().getStatus()))
        .isEqualTo(Conditions.TRUE);
    assertThat(drained().getReason()).isEqualTo(Reasons.DRAINED);

    a = node();
    a.setSpec(new Dom0NodeSpec(false, 1.0, null, null, false));
    put(a);
    report.run();
    assertThat(Conditions.find(node().getStatus().conditions(), Conditions.DRAINED)).isEmpty();
    assertThat(Conditions.find(node().getStatus().conditions(), Conditions.READY)).isPresent();
  }

  private static VirtualDisk placed(String name, String node) {
    VirtualDisk d = Fixtures.disk("ns1", name, "1Gi");
    d.setStatus(
        new VirtualDiskStatus(
            VirtualDiskStatus.Phase.Ready,
            1L,
            node,
            null,
            null,
            null,
            null,
            null,
            null,
            null,
            null,
            null,
            List.of()));
    return d;
  }

  /** As an admin (the spec) and the agent (the status) write it. */
  private static void put(Dom0Node node) {
    var res = client.resources(Dom0Node.class).withName(node.getMetadata().getName());
    if (res.get() == null) {
      Dom0Node copy = new Dom0Node();
      copy.setMetadata(new ObjectMetaBuilder().withName(node.getMetadata().getName()).build());
      copy.setSpec(node.getSpec());
      res.create(copy);
    } else {
      res.edit(
          cur -> {
            cur.setSpec(node.getSpec());
            return cur;
          });
    }
    res.editStatus(
        cur -> {
          cur.setStatus(node.getStatus());
          return cur;
        });
  }

  private static Dom0Node node() {
    return client.resources(Dom0Node.class).withName("node-a").get();
  }

  private static Condition drained() {
    return Conditions.find(node().getStatus().conditions(), Conditions.DRAINED).orElseThrow();
  }
}
