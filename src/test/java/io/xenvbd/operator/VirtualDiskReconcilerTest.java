package io.xenvbd.operator;

import static io.xenvbd.operator.Fixtures.GI;
import static io.xenvbd.operator.Fixtures.MI;
import static org.assertj.core.api.Assertions.assertThat;
import static org.awaitility.Awaitility.await;

import io.xenvbd.api.Conditions;
import io.xenvbd.api.Dom0Node;
import io.xenvbd.api.Dom0NodeSpec;
import io.xenvbd.api.Populate;
import io.xenvbd.api.Reasons;
import io.xenvbd.api.VirtualDisk;
import io.xenvbd.api.VirtualDiskSpec;
import io.xenvbd.api.VirtualDiskStatus;
import io.xenvbd.protocol.ErrorCodes;
import java.net.URI;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.time.Duration;
import java.time.Instant;
import java.time.temporal.ChronoUnit;
import java.util.List;
import java.util.concurrent.CopyOnWriteArrayList;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;

/**
 * The reconciler against the fabric8 mock API server (CRUD mode), with fake node agents (see {@link
 * FakeNode}): the operator's decisions, status, conditions and events.
 */
class VirtualDiskReconcilerTest {
  static MockApi api;
  OperatorHarness h;

  @BeforeAll
  static void startApi() {
    api = MockApi.start();
  }

  @AfterAll
  static void stopApi() {
    api.close();
  }

  @BeforeEach
  void startOperator() {
    h = new OperatorHarness(api);
    h.start(h.fakeAgents());
  }

  @AfterEach
  void clean() {
    h.close();
  }

  @Test
  void createdDiskBecomesReadyWithEveryStatusFieldAndEvents() {
    h.fake("a");
    h.putNode(Fixtures.node("a", 100 * GI, 0));
    h.create(Fixtures.disk("ns1", "vm1disk", "2Gi"));

    VirtualDisk d = h.awaitReady("ns1", "vm1disk");
    VirtualDiskStatus s = d.getStatus();
    assertThat(s.phase()).isEqualTo(VirtualDiskStatus.Phase.Ready);
    assertThat(s.observedGeneration()).isEqualTo(d.getMetadata().getGeneration());
    assertThat(s.nodeName()).isEqualTo("a");
    assertThat(s.path()).isEqualTo("/var/lib/xen/images-a/ns1/vm1disk.img");
    assertThat(s.capacityBytes()).isEqualTo(2 * GI);
    assertThat(s.allocatedBytes()).isPositive().isLessThan(2 * GI);
    assertThat(s.allocated()).isNotBlank();
    assertThat(s.filesystemUUID()).isNotBlank();
    assertThat(s.progress()).isNull();
    assertThat(s.xen().disk()).isEqualTo("format=raw, vdev=xvda1, access=rw, target=" + s.path());
    assertThat(s.xen().legacyDisk()).startsWith("file:" + s.path());
    assertThat(s.loopDevices().summary()).isEqualTo("1/8");
    assertThat(s.loopDevices().available()).isEqualTo(7);
    assertThat(s.loopDevices().devices()).isNull();
    assertThat(s.conditions())
        .extracting(c -> c.getType() + "=" + c.getStatus() + "/" + c.getReason())
        .containsExactly(
            "Scheduled=True/NodeAssigned",
            "Provisioned=True/Provisioned",
            "LoopDeviceAvailable=True/LoopDeviceFree",
            "Ready=True/Ready");
    assertThat(s.conditions()).allSatisfy(c -> assertThat(c.getObservedGeneration()).isEqualTo(1L));
    assertThat(d.getMetadata().getFinalizers()).contains(VirtualDisk.FINALIZER);
    assertThat(h.fake("a").builds.get()).isEqualTo(1);
    await()
        .untilAsserted(
            () ->
                assertThat(h.eventReasons("ns1", "vm1disk"))
                    .contains("Scheduled", "ProvisioningStarted", "Provisioned")
                    .doesNotHaveDuplicates());
  }

  @Test
  void theReconcileThatPlacesADiskAsksItsAgentOnceThePlacementIsWritten() {
    FakeNode a = h.fake("a");
    List<String> atBuild = new CopyOnWriteArrayList<>();
    a.onBuild(
        () -> {
          // what the API server holds, and how many reconciles had started, when the agent is asked
          VirtualDisk d = h.get("ns1", "placed");
          atBuild.add(d.getStatus() == null ? "no status" : "nodeName=" + d.getStatus().nodeName());
          atBuild.add(
              "reconciles="
                  + h.operator.metrics().count("xenvbd_operator_reconciles_started_total", ""));
        });
    h.putNode(Fixtures.node("a", 100 * GI, 0));
    h.create(Fixtures.disk("ns1", "placed", "2Gi"));

    h.awaitReady("ns1", "placed");
    // The placement is on the API server before the agent hears of the disk, and the build is
    // asked for by the reconcile that placed it, not by one scheduled after it: the first
    // reconcile is the operator SDK's own (it adds the finalizer, calling no reconciler), the
    // second places and asks (3 before the two were one reconcile).
    assertThat(atBuild).containsExactly("nodeName=a", "reconciles=2");
  }

  @Test
  void placesOnTheLeastCommittedNodeAndSkipsCordonedOnes() {
    for (String n : new String[] {"busy", "quiet", "cordoned"}) h.fake(n);
    h.putNode(Fixtures.node("busy", 100 * GI, 80 * GI));
    h.putNode(Fixtures.node("quiet", 100 * GI, 30 * GI));
    h.putNode(Fixtures.node("cordoned", 100 * GI, 0, 8, 0, true, Instant.now(), 3600));
    h.create(Fixtures.disk("ns1", "d1", "1Gi"));

    assertThat(h.awaitReady("ns1", "d1").getStatus().nodeName()).isEqualTo("quiet");
    assertThat(h.fake("cordoned").builds.get()).isZero();
  }

  @Test
  void noRoomLeavesThePendingDiskWithTheReasonUntilANodeFreesUp() {
    h.fake("a");
    h.putNode(Fixtures.node("a", 10 * GI, 9 * GI));
    h.create(Fixtures.disk("ns1", "big", "4Gi"));

    VirtualDisk d =
        h.awaitCondition(
            "ns1", "big", Conditions.SCHEDULED, Conditions.FALSE, Reasons.INSUFFICIENT_STORAGE);
    assertThat(d.getStatus().phase()).isEqualTo(VirtualDiskStatus.Phase.Pending);
    assertThat(h.condition(d, Conditions.READY).getMessage())
        .contains("no dom0 node fits 4Gi", "a: 1Gi left to promise");
    assertThat(h.eventReasons("ns1", "big")).contains(Reasons.INSUFFICIENT_STORAGE);

    h.putNode(
        Fixtures.node("a", 10 * GI, 1 * GI)); // an image was deleted: the next heartbeat says so
    assertThat(h.awaitReady("ns1", "big").getStatus().nodeName()).isEqualTo("a");
  }

  @Test
  void noFreeLoopDeviceIsNamedAsTheReason() {
    h.fake("a");
    h.putNode(Fixtures.node("a", 10 * GI, 0, 8, 8, false, Instant.now(), 3600));
    h.create(Fixtures.disk("ns1", "d", "1Gi"));
    VirtualDisk d =
        h.awaitCondition(
            "ns1", "d", Conditions.SCHEDULED, Conditions.FALSE, Reasons.LOOP_DEVICES_EXHAUSTED);
    assertThat(h.condition(d, Conditions.SCHEDULED).getMessage())
        .contains("no free loop device (8/8 in use)");
  }

  @Test
  void aCordonedNodeNamedBySpecNodeNameKeepsTheDiskPendingAndUnbuiltUntilUncordoned() {
    FakeNode a = h.fake("a");
    h.putNode(Fixtures.node("a", 10 * GI, 0, 8, 0, true, Instant.now(), 3600));
    h.create(Fixtures.disk("ns1", "d", Fixtures.spec("a", "1Gi", null, null, null)));

    VirtualDisk d =
        h.awaitCondition("ns1", "d", Conditions.SCHEDULED, Conditions.FALSE, Reasons.NODE_CORDONED);
    assertThat(d.getStatus().phase()).isEqualTo(VirtualDiskStatus.Phase.Pending);
    assertThat(d.getStatus().nodeName()).isNull();
    assertThat(h.condition(d, Conditions.READY).getReason()).isEqualTo(Reasons.NODE_CORDONED);
    assertThat(h.condition(d, Conditions.READY).getMessage())
        .contains("Dom0Node a is cordoned", "uncordon it");
    assertThat(h.eventReasons("ns1", "d")).contains(Reasons.NODE_CORDONED);
    assertThat(a.builds.get()).isZero();

    h.putNode(Fixtures.node("a", 10 * GI, 0, 8, 0, false, Instant.now(), 3600));
    assertThat(h.awaitReady("ns1", "d").getStatus().nodeName()).isEqualTo("a");
  }

  @Test
  void aNodeThatDoesNotAllowTheNamespaceIsRefusedWhenNamed() {
    FakeNode a = h.fake("a");
    Dom0Node node = Fixtures.node("a", 10 * GI, 0);
    node.setSpec(new Dom0NodeSpec(false, 1.0, List.of("ns2"), null));
    h.putNode(node);
    h.create(Fixtures.disk("ns1", "d", Fixtures.spec("a", "1Gi", null, null, null)));
    VirtualDisk d =
        h.awaitCondition(
            "ns1", "d", Conditions.SCHEDULED, Conditions.FALSE, Reasons.NAMESPACE_NOT_ALLOWED);
    assertThat(h.condition(d, Conditions.READY).getMessage())
        .contains("does not take disks from namespace ns1");
    assertThat(a.builds.get()).isZero();
  }

  @Test
  void cordoningANodeLeavesItsBuiltDisksInPlaceAndGrowable() {
    FakeNode a = h.fake("a");
    h.putNode(Fixtures.node("a", 10 * GI, 0));
    h.create(Fixtures.disk("ns1", "d", Fixtures.spec("a", "64Mi", null, null, null)));
    h.awaitReady("ns1", "d");
    h.putNode(Fixtures.node("a", 10 * GI, 0, 8, 1, true, Instant.now(), 3600));

    edit("ns1", "d", "128Mi", null);
    await()
        .atMost(Duration.ofSeconds(10))
        .until(
            () ->
                Long.valueOf(128 * MI).equals(h.get("ns1", "d").getStatus().capacityBytes())
                    && Conditions.isTrue(
                        h.get("ns1", "d").getStatus().conditions(), Conditions.READY));
    assertThat(h.get("ns1", "d").getStatus().nodeName()).isEqualTo("a");
    assertThat(a.builds.get()).as("built once, never rebuilt").isEqualTo(1);
    assertThat(a.capacity("ns1", "d")).isEqualTo(128 * MI);
  }

  @Test
  void aGrowBeyondTheNodesRoomIsRefusedTheImageUntouchedAndReadyStaysTrue() {
    FakeNode a = h.fake("a");
    h.putNode(Fixtures.node("a", 250 * GI, 0));
    h.create(Fixtures.disk("ns1", "d", Fixtures.spec("a", "1Gi", null, null, null)));
    h.awaitReady("ns1", "d");

    edit("ns1", "d", "10Ti", null);
    VirtualDisk d =
        h.awaitCondition(
            "ns1", "d", Conditions.RESIZED, Conditions.FALSE, Reasons.INSUFFICIENT_STORAGE);
    assertThat(h.condition(d, Conditions.RESIZED).getMessage())
        .contains(
            "growing the image from 1Gi to 10Ti is refused",
            "stays usable at 1Gi",
            "free space on a");
    assertThat(d.getStatus().phase()).isEqualTo(VirtualDiskStatus.Phase.Ready);
    assertThat(d.getStatus().capacityBytes()).isEqualTo(GI);
    assertThat(h.condition(d, Conditions.READY).getStatus()).isEqualTo(Conditions.TRUE);
    assertThat(a.capacity("ns1", "d")).as("the agent was never asked to grow").isEqualTo(GI);
    await()
        .untilAsserted(
            () ->
                assertThat(h.events("ns1", "d"))
                    .anyMatch(e -> e.startsWith("Warning InsufficientStorage: growing the image")));

    // the refused 10Ti promises nothing: a later disk on the node is placed
    h.create(Fixtures.disk("ns1", "later", Fixtures.spec("a", "200Gi", null, null, null)));
    assertThat(h.awaitReady("ns1", "later").getStatus().nodeName()).isEqualTo("a");

    // room appears (the admin raises the ratio): the grow goes ahead by itself
    Dom0Node roomy = Fixtures.node("a", 250 * GI, 0);
    roomy.setSpec(new Dom0NodeSpec(false, 50.0));
    h.putNode(roomy);
    h.awaitCondition("ns1", "d", Conditions.RESIZED, Conditions.TRUE, Reasons.RESIZED);
    assertThat(a.capacity("ns1", "d")).isEqualTo(10L << 40);
  }

  @Test
  void aDiskWhoseSizeGrewAfterPlacementIsNotBuiltBeyondTheNode() {
    FakeNode a = h.fake("a");
    h.putNode(Fixtures.node("a", 10 * GI, 0));
    h.stopOperator();
    // placed at a size that fitted by an operator that stopped right after; spec.size grown since
    h.create(Fixtures.disk("ns1", "d", Fixtures.spec("a", "10Ti", null, null, null)));
    api.client
        .resources(VirtualDisk.class)
        .inNamespace("ns1")
        .withName("d")
        .editStatus(
            cur -> {
              cur.setStatus(
                  new VirtualDiskStatus(
                      VirtualDiskStatus.Phase.Pending,
                      1L,
                      "a",
                      null,
                      null,
                      null,
                      null,
                      null,
                      "ext4",
                      null,
                      null,
                      null,
                      List.of()));
              return cur;
            });
    h.start(h.fakeAgents());

    VirtualDisk d =
        h.awaitCondition(
            "ns1", "d", Conditions.READY, Conditions.FALSE, Reasons.INSUFFICIENT_STORAGE);
    assertThat(h.condition(d, Conditions.READY).getMessage())
        .contains(
            "building the image at spec.size 10Ti is refused",
            "Dom0Node a has 10Gi left to promise");
    assertThat(d.getStatus().phase()).isEqualTo(VirtualDiskStatus.Phase.Pending);
    assertThat(a.builds.get()).isZero();
    // it holds no room meanwhile
    h.create(Fixtures.disk("ns1", "other", Fixtures.spec("a", "8Gi", null, null, null)));
    h.awaitReady("ns1", "other");
  }

  @Test
  void unreachableAgentTurnsReadyUnknownAndRecoveryBuildsOnce() {
    FakeNode a = h.fake("a");
    a.stagesPerBuild(30);
    h.putNode(Fixtures.node("a", 10 * GI, 0));
    h.create(Fixtures.disk("ns1", "d", "64Mi"));
    h.awaitCondition("ns1", "d", Conditions.PROVISIONED, Conditions.FALSE, Reasons.PROVISIONING);

    a.stop();
    VirtualDisk d =
        h.awaitCondition(
            "ns1", "d", Conditions.READY, Conditions.UNKNOWN, Reasons.NODE_UNREACHABLE);
    assertThat(h.condition(d, Conditions.READY).getMessage()).contains("unreachable");
    a.stagesPerBuild(2);
    a.resume();
    d = h.awaitReady("ns1", "d");
    assertThat(d.getStatus().capacityBytes()).isEqualTo(64 * MI);
    assertThat(a.builds.get()).isEqualTo(1);
  }

  @Test
  void staleHeartbeatTurnsTheDiskUnknownAndSaysSinceWhen() {
    h.fake("a");
    h.putNode(Fixtures.node("a", 10 * GI, 0));
    h.create(Fixtures.disk("ns1", "d", "64Mi"));
    h.awaitReady("ns1", "d");
    Instant last = Instant.now().minusSeconds(100).truncatedTo(ChronoUnit.SECONDS);
    h.putNode(Fixtures.node("a", 10 * GI, 0, 8, 1, false, last, 10));
    // a dead agent writes nothing: the disk notices at its periodic look (1 s in these tests); the
    // node's own Ready=Unknown is proven on the embedded and the real API server (NodeWatchTest,
    // NodeLossTest, ScenariosOnRealApiServerTest): the fabric8 CRUD mock does not show that patch
    VirtualDisk d =
        h.awaitCondition("ns1", "d", Conditions.READY, Conditions.UNKNOWN, Reasons.NODE_LOST);
    assertThat(h.condition(d, Conditions.READY).getMessage())
        .contains("is lost: no heartbeat from its agent since " + last);
    assertThat(d.getStatus().path()).as("image facts are kept while the node is away").isNotNull();
  }

  @Test
  void growingResizesAndShrinkingIsRefusedWithoutTouchingTheImage() {
    FakeNode a = h.fake("a");
    h.putNode(Fixtures.node("a", 10 * GI, 0));
    h.create(Fixtures.disk("ns1", "d", "64Mi"));
    h.awaitReady("ns1", "d");

    edit("ns1", "d", "128Mi", null);
    await()
        .atMost(Duration.ofSeconds(10))
        .until(
            () ->
                Long.valueOf(128 * MI).equals(h.get("ns1", "d").getStatus().capacityBytes())
                    && Conditions.isTrue(
                        h.get("ns1", "d").getStatus().conditions(), Conditions.READY));
    assertThat(a.capacity("ns1", "d")).isEqualTo(128 * MI);
    await().untilAsserted(() -> assertThat(h.eventReasons("ns1", "d")).contains(Reasons.RESIZED));

    edit("ns1", "d", "32Mi", null);
    VirtualDisk d =
        h.awaitCondition("ns1", "d", Conditions.READY, Conditions.FALSE, Reasons.INVALID_SPEC);
    assertThat(h.condition(d, Conditions.READY).getMessage())
        .contains("never shrink", "at least 128Mi");
    // the image realises generation 2 (128Mi), not the refused 3; Ready says why at 3
    assertThat(d.getStatus().observedGeneration()).isEqualTo(2L);
    assertThat(h.condition(d, Conditions.READY).getObservedGeneration()).isEqualTo(3L);
    assertThat(h.condition(d, Conditions.PROVISIONED).getStatus()).isEqualTo(Conditions.TRUE);
    assertThat(a.capacity("ns1", "d")).isEqualTo(128 * MI);
  }

  @Test
  void changingTheFilesystemIsRefused() {
    h.fake("a");
    h.putNode(Fixtures.node("a", 10 * GI, 0));
    h.create(Fixtures.disk("ns1", "d", "64Mi"));
    h.awaitReady("ns1", "d");
    assertThat(h.get("ns1", "d").getStatus().filesystem()).isEqualTo("ext4");
    edit("ns1", "d", "64Mi", VirtualDiskSpec.Filesystem.xfs);
    VirtualDisk d =
        h.awaitCondition("ns1", "d", Conditions.READY, Conditions.FALSE, Reasons.INVALID_SPEC);
    assertThat(h.condition(d, Conditions.READY).getMessage())
        .contains("spec.filesystem is immutable", "built with ext4");
  }

  @Test
  void agentErrorKeepsItsMessageAndIsRetried() {
    FakeNode a = h.fake("a");
    a.failNextBuild(
        ErrorCodes.SOURCE_NOT_ALLOWED,
        "hostPath /srv/rootfs is not under an allowed source: add --allow-source");
    h.putNode(Fixtures.node("a", 10 * GI, 0));
    h.create(Fixtures.disk("ns1", "d", "64Mi"));
    VirtualDisk failed =
        h.awaitCondition(
            "ns1", "d", Conditions.READY, Conditions.FALSE, Reasons.PROVISIONING_FAILED);
    assertThat(failed.getStatus().phase()).isEqualTo(VirtualDiskStatus.Phase.Failed);
    assertThat(h.condition(failed, Conditions.READY).getMessage())
        .contains("SourceNotAllowed", "add --allow-source");
    h.awaitReady("ns1", "d"); // the fake fails only once: the retry builds it
    assertThat(a.builds.get()).isEqualTo(2);
    assertThat(h.events("ns1", "d"))
        .anyMatch(e -> e.startsWith("Warning ProvisioningFailed: SourceNotAllowed"));
  }

  @Test
  void deleteRemovesTheImageAndRetainKeepsIt() {
    FakeNode a = h.fake("a");
    h.putNode(Fixtures.node("a", 10 * GI, 0));
    h.create(Fixtures.disk("ns1", "gone", "64Mi"));
    h.create(
        Fixtures.disk(
            "ns1",
            "kept",
            Fixtures.spec(null, "64Mi", null, null, VirtualDiskSpec.ReclaimPolicy.Retain)));
    h.awaitReady("ns1", "gone");
    h.awaitReady("ns1", "kept");

    api.client.resources(VirtualDisk.class).inNamespace("ns1").withName("gone").delete();
    api.client.resources(VirtualDisk.class).inNamespace("ns1").withName("kept").delete();
    await()
        .atMost(Duration.ofSeconds(10))
        .until(() -> h.get("ns1", "gone") == null && h.get("ns1", "kept") == null);
    assertThat(a.hasImage("ns1", "gone")).isFalse();
    assertThat(a.hasImage("ns1", "kept")).isTrue();
    assertThat(h.events("ns1", "gone")).anyMatch(e -> e.startsWith("Normal Deleted:"));
    assertThat(h.events("ns1", "kept"))
        .anyMatch(e -> e.startsWith("Normal Retained:") && e.contains("Retain"));
  }

  @Test
  void deletingAnAttachedImageIsBlockedWithAReasonUntilDetached() {
    FakeNode a = h.fake("a");
    h.putNode(Fixtures.node("a", 10 * GI, 0));
    h.create(Fixtures.disk("ns1", "d", "64Mi"));
    h.awaitReady("ns1", "d");
    a.setInUse("ns1", "d", true);

    api.client.resources(VirtualDisk.class).inNamespace("ns1").withName("d").delete();
    VirtualDisk d =
        h.awaitCondition("ns1", "d", Conditions.READY, Conditions.FALSE, Reasons.DELETION_BLOCKED);
    assertThat(d.getStatus().phase()).isEqualTo(VirtualDiskStatus.Phase.Deleting);
    assertThat(h.condition(d, Conditions.READY).getMessage())
        .startsWith("ImageInUse:")
        .contains("losetup -d");
    assertThat(h.events("ns1", "d"))
        .anyMatch(e -> e.startsWith("Warning DeletionBlocked: ImageInUse"));
    assertThat(a.hasImage("ns1", "d")).isTrue();

    a.setInUse("ns1", "d", false);
    await().atMost(Duration.ofSeconds(10)).until(() -> h.get("ns1", "d") == null);
    assertThat(a.hasImage("ns1", "d")).isFalse();
  }

  @Test
  void operatorRestartedMidBuildConvergesWithoutASecondBuild() {
    FakeNode a = h.fake("a");
    a.stagesPerBuild(1000);
    h.putNode(Fixtures.node("a", 10 * GI, 0));
    h.create(Fixtures.disk("ns1", "d", "64Mi"));
    h.awaitCondition("ns1", "d", Conditions.PROVISIONED, Conditions.FALSE, Reasons.PROVISIONING);
    h.stopOperator();
    a.stagesPerBuild(2);
    h.start(h.fakeAgents());
    h.awaitReady("ns1", "d");
    assertThat(a.builds.get()).isEqualTo(1);
  }

  @Test
  void cloneWaitsForItsSourceAndLandsOnTheSameNode() {
    h.fake("a");
    h.fake("b");
    h.putNode(Fixtures.node("a", 10 * GI, 5 * GI));
    h.putNode(Fixtures.node("b", 10 * GI, 0));
    var clone = new Populate(null, null, new Populate.CloneFrom("base"), null, null);
    h.create(Fixtures.disk("ns1", "copy", Fixtures.spec(null, "64Mi", null, clone, null)));
    h.awaitCondition("ns1", "copy", Conditions.READY, Conditions.FALSE, Reasons.WAITING_FOR_SOURCE);
    h.create(Fixtures.disk("ns1", "base", Fixtures.spec("a", "64Mi", null, null, null)));
    assertThat(h.awaitReady("ns1", "copy").getStatus().nodeName()).isEqualTo("a");
  }

  @Test
  void managementPortServesHealthReadinessAndMetrics() throws Exception {
    h.fake("a");
    h.putNode(Fixtures.node("a", 10 * GI, 0));
    h.create(Fixtures.disk("ns1", "d", "64Mi"));
    h.awaitReady("ns1", "d");
    var http = HttpClient.newHttpClient();
    String base = "http://127.0.0.1:" + h.operator.managementPort();
    for (String path : new String[] {"/healthz", "/readyz"}) {
      var r =
          http.send(
              HttpRequest.newBuilder(URI.create(base + path)).build(),
              HttpResponse.BodyHandlers.ofString());
      assertThat(r.statusCode()).as(path).isEqualTo(200);
    }
    await()
        .untilAsserted(
            () -> {
              String metrics =
                  http.send(
                          HttpRequest.newBuilder(URI.create(base + "/metrics")).build(),
                          HttpResponse.BodyHandlers.ofString())
                      .body();
              assertThat(metrics)
                  .contains(
                      "# TYPE xenvbd_operator_reconciles_total counter",
                      "xenvbd_operator_outcomes_total{outcome=\"Done\"}",
                      "xenvbd_operator_agent_calls_total{call=\"put\",result=\"ok\"} 1",
                      "xenvbd_operator_kube_events_total{type=\"Normal\",reason=\"Provisioned\"} 1",
                      "xenvbd_operator_leader 1");
              assertThat(metrics)
                  .containsPattern(
                      "xenvbd_operator_reconciles_total\\{result=\"success\"\\} [1-9]");
            });
    h.stopOperator();
  }

  private void edit(String ns, String name, String size, VirtualDiskSpec.Filesystem fs) {
    api.client
        .resources(VirtualDisk.class)
        .inNamespace(ns)
        .withName(name)
        .edit(
            cur -> {
              VirtualDiskSpec s = cur.getSpec();
              cur.setSpec(
                  new VirtualDiskSpec(
                      s.nodeName(),
                      size,
                      fs == null ? s.filesystem() : fs,
                      s.populate(),
                      s.tailor(),
                      s.xen(),
                      s.preallocate(),
                      s.reclaimPolicy()));
              return cur;
            });
  }
}
