package io.xenvbd.agent;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.within;
import static org.awaitility.Awaitility.await;

import io.fabric8.kubernetes.api.model.apiextensions.v1.CustomResourceDefinition;
import io.fabric8.kubernetes.client.KubernetesClient;
import io.fabric8.kubernetes.client.server.mock.EnableKubernetesMockClient;
import io.xenvbd.api.Conditions;
import io.xenvbd.api.Dom0Node;
import io.xenvbd.api.Dom0NodeSpec;
import io.xenvbd.api.Dom0NodeStatus;
import io.xenvbd.api.Sizes;
import io.xenvbd.protocol.NodeInfo;
import io.xenvbd.testing.Exec;
import io.xenvbd.testing.Host;
import io.xenvbd.testing.RequiresRoot;
import java.nio.file.FileStore;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.time.Instant;
import java.util.List;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** Registration and heartbeat of the Dom0Node against the fabric8 mock server in CRUD mode. */
@RequiresRoot
@EnableKubernetesMockClient(crud = true)
class AgentNodeTest {
  static KubernetesClient kube;
  @TempDir Path dir;

  @BeforeAll
  static void installCrd() {
    CustomResourceDefinition crd =
        kube.apiextensions()
            .v1()
            .customResourceDefinitions()
            .load(Path.of("target/classes/META-INF/fabric8/dom0nodes.xenvbd.io-v1.yml").toFile())
            .item();
    kube.apiextensions().v1().customResourceDefinitions().resource(crd).create();
  }

  private Dom0Node node() {
    return kube.resources(Dom0Node.class).withName("node-a").get();
  }

  @Test
  void dom0NodeAppearsWithTheNodesFiguresAndItsHeartbeatAdvances() throws Exception {
    try (AgentHarness h = AgentHarness.start(dir, kube)) {
      h.call("PUT", "/v1/disks/default/d1", AgentHarness.putBody("uid-1", "{\"size\":\"64Mi\"}"));
      h.awaitReady("default", "d1", Duration.ofSeconds(60));
      Files.writeString(h.root.resolve("default/stray.img"), "not ours");

      await()
          .atMost(Duration.ofSeconds(10))
          .untilAsserted(
              () -> {
                Dom0NodeStatus s = node().getStatus();
                assertThat(s).isNotNull();
                assertThat(s.disks()).isEqualTo(1);
                assertThat(s.orphans())
                    .containsExactly(h.root.resolve("default/stray.img").toString());
              });
      Dom0Node node = node();
      Dom0NodeStatus status = node.getStatus();
      assertThat(status.agent().endpoint())
          .isEqualTo(h.agent.endpoint().toString())
          .startsWith("https://127.0.0.1:");
      assertThat(status.agent().heartbeatSeconds()).isEqualTo(1);
      assertThat(Conditions.isTrue(status.conditions(), Conditions.READY)).isTrue();
      assertThat(node.getSpec().unschedulable()).isFalse();

      // Loop figures as losetup and sysfs see them. Other tests may attach devices meanwhile: retry
      // until one reading agrees.
      int max =
          Integer.parseInt(
              Files.readString(Path.of("/sys/module/loop/parameters/max_loop")).strip());
      await()
          .atMost(Duration.ofSeconds(20))
          .untilAsserted(
              () -> {
                List<String[]> attached = Host.attachedLoops();
                Dom0NodeStatus s = node().getStatus();
                assertThat(s.loopDevices().inUse()).isEqualTo(attached.size());
                assertThat(s.loopDevices().devices())
                    .extracting(d -> d.name().replace("/dev/", ""))
                    .containsExactlyInAnyOrderElementsOf(
                        attached.stream().map(a -> a[0].replace("/dev/", "")).toList());
                if (max > 0) {
                  assertThat(s.loopDevices().max()).isEqualTo(max);
                  assertThat(s.loopDevices().available()).isEqualTo(max - attached.size());
                } else {
                  assertThat(s.loopDevices().unlimited()).isTrue();
                }
              });

      // Storage as df reports it (others write to the same disk, so available is compared loosely).
      String[] df =
          Exec.ok("df", "-B1", "--output=size,avail", h.root.toString())
              .strip()
              .split("\n")[1]
              .trim()
              .split("\\s+");
      FileStore store = Files.getFileStore(h.root);
      Dom0NodeStatus.Storage storage = node().getStatus().storage();
      assertThat(storage.capacityBytes())
          .isEqualTo(Long.parseLong(df[0]))
          .isEqualTo(store.getTotalSpace());
      assertThat((double) storage.availableBytes())
          .isCloseTo(Long.parseLong(df[1]), within(512.0 * (1 << 20)));
      assertThat(storage.available()).isEqualTo(Sizes.human(storage.availableBytes()));
      // Every image file under the root counts, orphans too: they hold space whoever owns them.
      assertThat(storage.promisedBytes()).isEqualTo((64L << 20) + "not ours".length());
      long du = 0;
      for (String f : List.of("default/d1.img", "default/stray.img")) {
        du +=
            Long.parseLong(
                Exec.ok("du", "-B1", "-s", h.root.resolve(f).toString()).split("\\s+")[0]);
      }
      assertThat(storage.allocatedBytes()).isEqualTo(du);

      NodeInfo info = h.client.node();
      assertThat(info.nodeName()).isEqualTo("node-a");
      assertThat(info.images()).extracting(NodeInfo.Image::name).containsExactly("d1");
      assertThat(info.storage().capacityBytes()).isEqualTo(storage.capacityBytes());

      // The heartbeat advances; an admin's spec edit survives it.
      kube.resources(Dom0Node.class)
          .withName("node-a")
          .edit(
              n -> {
                n.setSpec(new Dom0NodeSpec(true, 2.0));
                return n;
              });
      Instant first = Instant.parse(node().getStatus().agent().lastHeartbeat());
      String transition =
          Conditions.find(node().getStatus().conditions(), Conditions.READY)
              .orElseThrow()
              .getLastTransitionTime();
      await()
          .atMost(Duration.ofSeconds(10))
          .until(() -> Instant.parse(node().getStatus().agent().lastHeartbeat()).isAfter(first));
      Dom0Node later = node();
      assertThat(later.getSpec().unschedulable()).isTrue();
      assertThat(later.getSpec().overcommitRatio()).isEqualTo(2.0);
      assertThat(
              Conditions.find(later.getStatus().conditions(), Conditions.READY)
                  .orElseThrow()
                  .getLastTransitionTime())
          .as("Ready did not flip, so its transition time stays")
          .isEqualTo(transition);
    } finally {
      Host.releaseAll(dir);
    }
  }

  /**
   * A delete frees room at once in the node's status, not at the next heartbeat: disks refused for
   * room (InsufficientStorage) wait on that status, and after a fleet was deleted a new one sat
   * Pending for up to a whole heartbeat (10 s by default). Here the heartbeats are a minute apart.
   */
  @Test
  void aDeleteShowsTheFreedRoomWithoutWaitingForTheHeartbeat() throws Exception {
    try (AgentHarness h = AgentHarness.start(dir, kube, c -> c.heartbeat(Duration.ofSeconds(60)))) {
      await() // the beat at start
          .atMost(Duration.ofSeconds(10))
          .until(() -> node() != null && node().getStatus() != null);
      for (String d : List.of("d1", "d2")) {
        h.call(
            "PUT",
            "/v1/disks/default/" + d,
            AgentHarness.putBody("uid-" + d, "{\"size\":\"64Mi\"}"));
        h.awaitReady("default", d, Duration.ofSeconds(60));
      }
      assertThat(node().getStatus().disks()).as("no beat since the start").isZero();

      h.call("DELETE", "/v1/disks/default/d1?uid=uid-d1", null);
      await()
          .atMost(Duration.ofSeconds(5))
          .untilAsserted(
              () -> {
                Dom0NodeStatus s = node().getStatus();
                assertThat(s.disks()).isEqualTo(1);
                assertThat(s.storage().promisedBytes()).isEqualTo(64L << 20);
              });
    } finally {
      Host.releaseAll(dir);
    }
  }
}
