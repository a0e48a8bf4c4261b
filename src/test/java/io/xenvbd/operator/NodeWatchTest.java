package io.xenvbd.operator;

import static org.assertj.core.api.Assertions.assertThat;

import io.fabric8.kubernetes.api.model.Condition;
import io.fabric8.kubernetes.client.KubernetesClient;
import io.xenvbd.api.Conditions;
import io.xenvbd.api.Dom0Node;
import io.xenvbd.api.Dom0NodeStatus;
import io.xenvbd.api.Reasons;
import io.xenvbd.api.VirtualDisk;
import io.xenvbd.kube.EmbeddedApiServer;
import java.time.Duration;
import java.time.Instant;
import java.util.List;
import java.util.concurrent.atomic.AtomicBoolean;
import java.util.concurrent.atomic.AtomicReference;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;

/**
 * The leader's Ready=Unknown on a Dom0Node whose agent stopped heartbeating, against the embedded
 * API (which enforces the resourceVersion a patch carries), with a clock moved by hand and the
 * agent's heartbeats written as the agent writes them (a replace of the status).
 */
class NodeWatchTest {
  static final Instant T0 = Instant.parse("2026-12-01T10:00:00Z");
  static EmbeddedApiServer api;
  static KubernetesClient client;
  final TestClock clock = new TestClock(T0);
  final AtomicBoolean leader = new AtomicBoolean(true);

  /** What the informer cache would hold: by default the server's current object. */
  final AtomicReference<Dom0Node> cached = new AtomicReference<>();

  final NodeWatch watch =
      new NodeWatch(
          client,
          new ClusterView() {
            @Override
            public List<Dom0Node> nodes() {
              Dom0Node c = cached.get();
              return c != null ? List.of(c) : client.resources(Dom0Node.class).list().getItems();
            }

            @Override
            public List<VirtualDisk> disks() {
              return List.of();
            }
          },
          leader::get,
          clock);

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

  @AfterEach
  void clean() {
    watch.close();
    client.resources(Dom0Node.class).delete();
  }

  @Test
  void aNodeWhoseAgentStoppedTurnsUnknownWithTheTimeOfItsLastHeartbeatAndWhatToCheck() {
    heartbeat("a", T0, 10);
    watch.sweep();
    clock.advance(Duration.ofSeconds(30));
    watch.sweep();
    assertThat(ready("a").getStatus()).as("three heartbeats not yet missed").isEqualTo("True");

    clock.advance(Duration.ofSeconds(1));
    watch.sweep();
    Dom0Node node = get("a");
    Condition ready = ready("a");
    assertThat(ready.getStatus()).isEqualTo(Conditions.UNKNOWN);
    assertThat(ready.getReason()).isEqualTo(Reasons.HEARTBEAT_MISSED);
    assertThat(ready.getMessage())
        .isEqualTo(
            "no heartbeat from the xenvbd agent of a since 2026-12-01T10:00:00Z (it heartbeats"
                + " every 10s; Ready turns Unknown after 3 missed): check that the agent pod on a"
                + " runs (kubectl get pods -o wide -l app.kubernetes.io/component=agent in the"
                + " release namespace) and that its log shows no error reaching the API server;"
                + " Ready turns True by itself at its next heartbeat");
    assertThat(ready.getLastTransitionTime()).isEqualTo("2026-12-01T10:00:31Z");
    assertThat(node.getStatus().storage().root())
        .as("what the agent wrote beside the condition stays")
        .isEqualTo("/images/a");

    String rv = node.getMetadata().getResourceVersion();
    clock.advance(Duration.ofSeconds(60));
    watch.sweep();
    assertThat(get("a").getMetadata().getResourceVersion())
        .as("a lost node is written once, not on every sweep")
        .isEqualTo(rv);

    heartbeat("a", Instant.now(clock), 10);
    assertThat(ready("a").getStatus()).as("the agent's next heartbeat wins").isEqualTo("True");
    watch.sweep();
    assertThat(ready("a").getStatus()).isEqualTo("True");
  }

  @Test
  void aLiveAgentWhoseClockRunsBehindIsNeverMarkedLost() {
    for (int beat = 0; beat < 10; beat++) {
      // the agent's clock is two minutes behind, but it heartbeats every 10 s
      heartbeat("slow", Instant.now(clock).minusSeconds(120), 10);
      watch.sweep();
      clock.advance(Duration.ofSeconds(10));
      watch.sweep();
      assertThat(ready("slow").getStatus()).as("beat " + beat).isEqualTo("True");
    }
    clock.advance(Duration.ofSeconds(31));
    watch.sweep();
    assertThat(ready("slow").getStatus())
        .as("once its heartbeats really stop, it is lost")
        .isEqualTo(Conditions.UNKNOWN);
  }

  @Test
  void aHeartbeatThatLandsBeforeTheWriteWinsAndAStandbyNeverWrites() {
    heartbeat("a", T0, 10);
    watch.sweep();
    clock.advance(Duration.ofSeconds(31));
    leader.set(false);
    watch.sweep();
    assertThat(ready("a").getStatus()).as("a standby writes nothing").isEqualTo("True");

    leader.set(true);
    cached.set(get("a")); // the informer's copy, judged stale ...
    heartbeat("a", Instant.now(clock), 10); // ... while the agent's fresh heartbeat lands
    watch.sweep(); // 409: the patch carried the old resourceVersion
    cached.set(null);
    assertThat(ready("a").getStatus()).isEqualTo("True");
    assertThat(get("a").getStatus().agent().lastHeartbeat())
        .isEqualTo(Instant.now(clock).toString());
  }

  /** What the agent's heartbeat does: create when missing, then replace the whole status. */
  private void heartbeat(String name, Instant at, int seconds) {
    var res = client.resources(Dom0Node.class).withName(name);
    Dom0Node node = res.get();
    if (node == null) {
      Dom0Node fresh = Fixtures.node(name, 1L << 30, 0);
      fresh.setStatus(null);
      node = client.resource(fresh).create();
    }
    Dom0NodeStatus old = node.getStatus();
    Dom0NodeStatus beat = Fixtures.node(name, 1L << 30, 0, 8, 1, false, at, seconds).getStatus();
    node.setStatus(
        new Dom0NodeStatus(
            beat.agent(),
            beat.loopDevices(),
            new Dom0NodeStatus.Storage("/images/" + name, 1L << 30, 1L << 30, 0L, 0L, "1Gi"),
            0,
            List.of(),
            Conditions.set(
                old == null ? null : old.conditions(),
                Conditions.READY,
                Conditions.TRUE,
                Reasons.HEARTBEAT,
                "serving",
                1L,
                clock)));
    client.resource(node).updateStatus();
  }

  private Dom0Node get(String name) {
    return client.resources(Dom0Node.class).withName(name).get();
  }

  private Condition ready(String name) {
    return Conditions.find(get(name).getStatus().conditions(), Conditions.READY).orElseThrow();
  }
}
