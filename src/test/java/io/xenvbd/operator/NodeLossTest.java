package io.xenvbd.operator;

import static org.assertj.core.api.Assertions.assertThat;
import static org.awaitility.Awaitility.await;

import io.fabric8.kubernetes.api.model.Condition;
import io.fabric8.kubernetes.api.model.Event;
import io.fabric8.kubernetes.client.KubernetesClient;
import io.fabric8.kubernetes.client.dsl.base.PatchContext;
import io.fabric8.kubernetes.client.dsl.base.PatchType;
import io.xenvbd.api.Conditions;
import io.xenvbd.api.Dom0Node;
import io.xenvbd.api.Reasons;
import io.xenvbd.api.VirtualDisk;
import io.xenvbd.api.VirtualDiskSpec;
import io.xenvbd.api.VirtualDiskStatus;
import io.xenvbd.kube.EmbeddedApiServer;
import io.xenvbd.testing.RequiresRoot;
import java.nio.file.Path;
import java.time.Duration;
import java.time.Instant;
import java.util.List;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * Node loss on the embedded API with the operator and two real agents that heartbeat every second:
 * an agent that stops, and a Dom0Node that is deleted. Its disks say so, stay bound to the node,
 * nothing is deleted, and they recover by themselves when the node comes back.
 */
@RequiresRoot
class NodeLossTest {
  static final String NS = "loss";

  /** Three missed heartbeats of 1 s, a sweep of the node watch, a reconcile: well within this. */
  static final Duration BOUND = Duration.ofSeconds(15);

  EmbeddedApiServer api;
  KubernetesClient kube;
  RealNodes nodes;
  XenvbdOperator operator;
  @TempDir Path dir;

  @BeforeEach
  void start() {
    api = EmbeddedApiServer.startWithProjectCrds(0);
    kube = api.client();
    nodes = new RealNodes(dir, kube, Duration.ofSeconds(1));
    for (String n : List.of("a", "b")) nodes.start(n);
    await().atMost(BOUND).until(() -> node("a") != null && node("b") != null);
    operator = XenvbdOperator.start(kube, OperatorHarness.fastConfig(), nodes.clients());
  }

  @AfterEach
  void stop() {
    if (operator != null) operator.close();
    nodes.close();
    kube.close();
    api.close();
  }

  @Test
  void anAgentThatStopsTurnsItsNodeUnknownAndItsDisksLostUntilItHeartbeatsAgain() {
    create("d", "a");
    awaitReady("d");
    nodes.stop("a");
    Instant stopped = Instant.now();

    Condition nodeReady = awaitNodeReady("a", Conditions.UNKNOWN);
    assertThat(nodeReady.getReason()).isEqualTo(Reasons.HEARTBEAT_MISSED);
    String last = node("a").getStatus().agent().lastHeartbeat();
    assertThat(nodeReady.getMessage())
        .startsWith("no heartbeat from the xenvbd agent of a since " + last)
        .contains("check that the agent pod on a runs");
    VirtualDisk lost = awaitCondition("d", Conditions.READY, Conditions.UNKNOWN, Reasons.NODE_LOST);
    System.out.println(
        "[node loss] disk said NodeLost "
            + Duration.between(stopped, Instant.now()).toMillis()
            + " ms after its agent stopped: "
            + condition(lost, Conditions.READY).getMessage());
    assertThat(condition(lost, Conditions.READY).getMessage())
        .contains("no heartbeat from its agent since " + last, "not moved to another node");
    assertThat(lost.getStatus().nodeName()).isEqualTo("a");
    assertThat(lost.getStatus().path()).as("what is known of the image is kept").isNotNull();
    assertThat(nodes.images("a")).containsExactly(NS + "/d.img");

    nodes.start("a");
    assertThat(awaitNodeReady("a", Conditions.TRUE).getReason()).isEqualTo(Reasons.HEARTBEAT);
    assertThat(awaitReady("d").getStatus().nodeName()).isEqualTo("a");
    assertThat(nodes.images("b")).isEmpty();
  }

  @Test
  void aDeletedDom0NodeKeepsItsDisksBoundAndDeletingOneWaitsUntilTheNodeReturnsOrItIsGivenUp() {
    create("placed", null); // the operator chose its node: the one that could be rebound
    String x = awaitReady("placed").getStatus().nodeName();
    String other = x.equals("a") ? "b" : "a";
    create("pinned", x);
    awaitReady("pinned");
    Path placedImage = Path.of(get("placed").getStatus().path());
    Path pinnedImage = Path.of(get("pinned").getStatus().path());

    nodes.stop(x);
    kube.resources(Dom0Node.class).withName(x).delete();
    for (String name : List.of("placed", "pinned")) {
      VirtualDisk d =
          awaitCondition(name, Conditions.READY, Conditions.UNKNOWN, Reasons.NODE_DELETED);
      assertThat(condition(d, Conditions.READY).getMessage())
          .isEqualTo(
              "Dom0Node "
                  + x
                  + " no longer exists: the image stays on "
                  + x
                  + " and this disk is not moved to another node. If the agent there still runs,"
                  + " it registers the node again within a heartbeat and the disk turns Ready by"
                  + " itself; start it if it does not");
    }
    // a while later: still bound to the lost node, nothing built elsewhere, nothing deleted
    await()
        .during(Duration.ofSeconds(3))
        .atMost(Duration.ofSeconds(5))
        .until(() -> x.equals(get("placed").getStatus().nodeName()));
    assertThat(nodes.images(other)).isEmpty();
    assertThat(placedImage).exists();
    assertThat(pinnedImage).exists();

    for (String name : List.of("placed", "pinned"))
      kube.resources(VirtualDisk.class).inNamespace(NS).withName(name).delete();
    for (String name : List.of("placed", "pinned")) {
      VirtualDisk d =
          awaitCondition(name, Conditions.READY, Conditions.FALSE, Reasons.DELETION_BLOCKED);
      assertThat(d.getStatus().phase()).isEqualTo(VirtualDiskStatus.Phase.Deleting);
      assertThat(condition(d, Conditions.READY).getMessage())
          .startsWith("NodeDeleted: Dom0Node " + x + " no longer exists, so no agent can delete")
          .contains(
              "deletion resumes by itself when the node's agent registers it again",
              "kubectl annotate virtualdisk "
                  + name
                  + " -n "
                  + NS
                  + " xenvbd.io/abandon-image=true");
    }

    kube.resources(VirtualDisk.class)
        .inNamespace(NS)
        .withName("pinned")
        .patch(
            PatchContext.of(PatchType.JSON_MERGE),
            "{\"metadata\":{\"annotations\":{\"xenvbd.io/abandon-image\":\"true\"}}}");
    await().atMost(BOUND).until(() -> get("pinned") == null);
    assertThat(pinnedImage).as("given up, never deleted").exists();
    assertThat(events("pinned")).anyMatch(e -> e.startsWith("Warning ImageAbandoned: image "));
    assertThat(get("placed")).as("the other still waits for its node").isNotNull();

    nodes.start(x); // registers its Dom0Node again: the waiting deletion resumes
    await().atMost(BOUND).until(() -> get("placed") == null);
    assertThat(placedImage).as("deleted by its agent once back").doesNotExist();
    assertThat(pinnedImage).as("the abandoned image is left to the admin").exists();
  }

  private void create(String name, String node) {
    kube.resource(
            Fixtures.disk(
                NS, name, Fixtures.spec(node, "16Mi", VirtualDiskSpec.Filesystem.none, null, null)))
        .create();
  }

  private VirtualDisk get(String name) {
    return kube.resources(VirtualDisk.class).inNamespace(NS).withName(name).get();
  }

  private Dom0Node node(String name) {
    return kube.resources(Dom0Node.class).withName(name).get();
  }

  private static Condition condition(VirtualDisk d, String type) {
    return d == null || d.getStatus() == null
        ? null
        : Conditions.find(d.getStatus().conditions(), type).orElse(null);
  }

  private Condition awaitNodeReady(String name, String status) {
    await()
        .atMost(BOUND)
        .pollInterval(Duration.ofMillis(100))
        .until(
            () -> {
              Dom0Node n = node(name);
              return n != null
                  && n.getStatus() != null
                  && Conditions.find(n.getStatus().conditions(), Conditions.READY)
                      .map(c -> status.equals(c.getStatus()))
                      .orElse(false);
            });
    return Conditions.find(node(name).getStatus().conditions(), Conditions.READY).orElseThrow();
  }

  private VirtualDisk awaitCondition(String name, String type, String status, String reason) {
    await()
        .atMost(BOUND)
        .pollInterval(Duration.ofMillis(100))
        .until(
            () -> {
              Condition c = condition(get(name), type);
              return c != null
                  && status.equals(c.getStatus())
                  && (reason == null || reason.equals(c.getReason()));
            });
    return get(name);
  }

  private VirtualDisk awaitReady(String name) {
    return awaitCondition(name, Conditions.READY, Conditions.TRUE, null);
  }

  private List<String> events(String name) {
    return kube.v1().events().inNamespace(NS).list().getItems().stream()
        .filter(e -> name.equals(e.getInvolvedObject().getName()))
        .map((Event e) -> e.getType() + " " + e.getReason() + ": " + e.getMessage())
        .toList();
  }
}
