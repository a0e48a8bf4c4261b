package io.xenvbd.operator;

import static io.xenvbd.operator.Fixtures.MI;
import static io.xenvbd.testing.RealKubeApiServer.ADMIN;
import static io.xenvbd.testing.RealKubeApiServer.AGENT;
import static io.xenvbd.testing.RealKubeApiServer.NAMESPACE;
import static io.xenvbd.testing.RealKubeApiServer.OPERATOR;
import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;
import static org.awaitility.Awaitility.await;

import io.fabric8.kubernetes.api.model.Condition;
import io.fabric8.kubernetes.api.model.HasMetadata;
import io.fabric8.kubernetes.api.model.NamespaceBuilder;
import io.fabric8.kubernetes.api.model.rbac.ClusterRole;
import io.fabric8.kubernetes.api.model.rbac.PolicyRule;
import io.fabric8.kubernetes.api.model.rbac.Role;
import io.fabric8.kubernetes.client.KubernetesClient;
import io.fabric8.kubernetes.client.KubernetesClientException;
import io.fabric8.kubernetes.client.dsl.base.PatchContext;
import io.fabric8.kubernetes.client.dsl.base.PatchType;
import io.xenvbd.api.Conditions;
import io.xenvbd.api.Dom0Node;
import io.xenvbd.api.Populate;
import io.xenvbd.api.Reasons;
import io.xenvbd.api.VirtualDisk;
import io.xenvbd.api.VirtualDiskSpec;
import io.xenvbd.api.VirtualDiskStatus;
import io.xenvbd.testing.ApiServerAudit;
import io.xenvbd.testing.Exec;
import io.xenvbd.testing.Host;
import io.xenvbd.testing.Manifests;
import io.xenvbd.testing.ProjectCrds;
import io.xenvbd.testing.RbacGrants;
import io.xenvbd.testing.RealKubeApiServer;
import io.xenvbd.testing.RequiresKubeApiServer;
import io.xenvbd.testing.RequiresRoot;
import java.io.IOException;
import java.io.OutputStream;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.time.Instant;
import java.util.ArrayList;
import java.util.List;
import java.util.Random;
import java.util.Set;
import org.awaitility.core.ConditionTimeoutException;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.MethodOrderer;
import org.junit.jupiter.api.Order;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.TestMethodOrder;
import org.junit.jupiter.api.io.TempDir;

/**
 * The operator's end-to-end scenarios on a real kube-apiserver, with real agents, each process
 * authenticated as its own ServiceAccount and authorized only by the chart's rendered RBAC: grow,
 * shrink and bad input refused by the CRD's own schema and CEL rules, cordon, Retain and Delete,
 * deletion blocked by a loop device, node loss (an agent stopped, its Dom0Node deleted: the leader
 * turns the node Unknown, its disks say so and stay bound, and recover when it returns), two
 * operators electing a leader through a real Lease (the leader killed mid-build; the standby
 * finishes that build and serves new disks), and the one operator left stopped mid-build and
 * started afresh (it finishes the build, not a second one). The last test reads the API server's
 * audit log for the whole class: no call by either ServiceAccount was refused, every call was
 * granted, and every grant was used (or is allow-listed with its reason).
 *
 * <p>One operator pair and two agents serve every test, in order, so that the class adds seconds,
 * not minutes; each test keeps to its own disks.
 */
@RequiresRoot
@RequiresKubeApiServer
@TestMethodOrder(MethodOrderer.OrderAnnotation.class)
class ScenariosOnRealApiServerTest {
  static final String NS = "scenarios";
  static final String A = "real-a";
  static final String B = "real-b";
  static final String LEASE = "xenvbd-operator-scenarios";

  /**
   * Operator grants this class cannot make the operator use; each says why. - leases update: never
   * called (fabric8's LeaseLock creates, then renews with a patch), but java-operator-sdk 5.2.3's
   * LeaderElectionManager.checkLeaseAccess refuses to start unless a SelfSubjectRulesReview lists
   * get, create and update on leases (the rbac.yaml comment says so). - virtualdisks get:
   * java-operator-sdk re-reads a disk only when its finalizer patch meets a 409 Conflict
   * (ReconciliationDispatcher.conflictRetryingPatch); whether one happens is a race.
   */
  static final Set<String> OPERATOR_UNEXERCISED =
      Set.of("coordination.k8s.io/leases:update", "xenvbd.io/virtualdisks:get");

  static final Set<String> AGENT_UNEXERCISED = Set.of();

  static RealKubeApiServer kube;
  static Instant started;
  static KubernetesClient admin;
  static KubernetesClient asOperator;
  static KubernetesClient asAgent;
  static List<HasMetadata> rbac;
  static RealNodes nodes;
  static XenvbdOperator first;
  static XenvbdOperator second;
  static XenvbdOperator restarted;
  @TempDir static Path dir;

  @BeforeAll
  static void start(RealKubeApiServer server) {
    kube = server;
    started = Instant.now();
    admin = kube.client(ADMIN);
    ProjectCrds.install(admin);
    for (String ns : List.of(NAMESPACE, NS)) {
      admin
          .namespaces()
          .resource(new NamespaceBuilder().withNewMetadata().withName(ns).endMetadata().build())
          .serverSideApply();
    }
    rbac = OperatorOnRealApiServerTest.chartRbac(kube.binaries().version());
    for (HasMetadata o : rbac) admin.resource(o).inNamespace(NAMESPACE).serverSideApply();
    // Nodes another class registered have no agent any more; this class's agents register their
    // own.
    admin.resources(Dom0Node.class).delete();
    await()
        .atMost(Duration.ofSeconds(10))
        .until(() -> admin.resources(Dom0Node.class).list().getItems().isEmpty());

    asOperator = kube.client(OPERATOR);
    asAgent = kube.client(AGENT);
    nodes = new RealNodes(dir, asAgent);
    for (String n : List.of(A, B)) nodes.start(n);
    try {
      await()
          .atMost(Duration.ofSeconds(20))
          .until(
              () ->
                  List.of(A, B).stream()
                      .allMatch(
                          n -> {
                            Dom0Node d = admin.resources(Dom0Node.class).withName(n).get();
                            return d != null
                                && d.getStatus() != null
                                && d.getStatus().storage() != null;
                          }));
    } catch (ConditionTimeoutException e) {
      noCallWasForbidden(); // the likeliest cause, named
      throw e;
    }
    first = XenvbdOperator.start(asOperator, replica("op-1"), nodes.clients());
    await().atMost(Duration.ofSeconds(30)).until(first::isLeader);
    second = XenvbdOperator.start(asOperator, replica("op-2"), nodes.clients());
  }

  /**
   * A replica as the Deployment runs it: leader election through a Lease in the release namespace.
   */
  static OperatorConfig replica(String identity) {
    return OperatorHarness.fastConfig().toBuilder()
        .leaderElection(true)
        .leaseNamespace(NAMESPACE)
        .leaseName(LEASE)
        .identity(identity)
        .build();
  }

  /** After every scenario: a call the chart does not grant fails right where it was made. */
  @AfterEach
  void eachScenarioRanWithoutAForbiddenCall() {
    noCallWasForbidden();
  }

  static void noCallWasForbidden() {
    ApiServerAudit audit = kube.audit().since(started);
    assertThat(audit.by(OPERATOR).forbidden())
        .as("operator calls the chart's RBAC refused (403)")
        .isEmpty();
    assertThat(audit.by(AGENT).forbidden())
        .as("agent calls the chart's RBAC refused (403)")
        .isEmpty();
  }

  @AfterAll
  static void stop() {
    for (XenvbdOperator o : new XenvbdOperator[] {first, second, restarted}) {
      if (o != null) o.close();
    }
    if (nodes != null) nodes.close();
    for (KubernetesClient c : new KubernetesClient[] {asOperator, asAgent, admin}) {
      if (c != null) c.close();
    }
  }

  @Test
  @Order(1)
  void aGrownDiskIsReadyWithItsNewCapacityAndAShrinkIsRefusedByTheCrdsRule() {
    create("grow", Fixtures.spec(A, "32Mi", null, null, null));
    Path image = Path.of(awaitReady("grow").getStatus().path());
    patchSpec("grow", "{\"spec\":{\"size\":\"64Mi\"}}");
    await()
        .atMost(Duration.ofSeconds(30))
        .pollInterval(Duration.ofMillis(200))
        .until(
            () -> {
              VirtualDisk d = get("grow");
              return Long.valueOf(64 * MI).equals(d.getStatus().capacityBytes())
                  && Conditions.isTrue(d.getStatus().conditions(), Conditions.READY);
            });
    assertThat(image).hasSize(64 * MI);
    assertThat(ext4Bytes(image)).as("the filesystem was grown with the file").isEqualTo(64 * MI);
    Host.assertFsckClean(image);

    assertThatThrownBy(() -> patchSpec("grow", "{\"spec\":{\"size\":\"16Mi\"}}"))
        .isInstanceOfSatisfying(
            KubernetesClientException.class,
            e -> {
              assertThat(e.getCode()).isEqualTo(422);
              assertThat(e.getMessage()).contains("spec.size may grow but never shrink");
            });
    assertThat(get("grow").getSpec().size()).isEqualTo("64Mi");
    assertThat(image).hasSize(64 * MI);
  }

  @Test
  @Order(2)
  void badInputIsRefusedAtApplyOrByTheOperatorWithAMessageThatSaysWhatToChange() {
    record Refused(String name, String specYaml, String message) {}
    List<Refused> cases =
        List.of(
            new Refused("bad-size", "size: 2GB", "spec.size"),
            new Refused(
                "bad-vdev",
                "size: 16Mi\nxen: {vdev: \"xvda1,w,target=/etc/shadow\"}",
                "spec.xen.vdev"),
            new Refused(
                "bad-hostname",
                "size: 16Mi\ntailor: {hostname: \"a\\nb\"}",
                "spec.tailor.hostname"),
            new Refused("bad-xfs", "size: 16Mi\nfilesystem: xfs", "at least 300Mi for xfs"));
    List<String> messages = new ArrayList<>();
    for (Refused c : cases) {
      assertThatThrownBy(
              () -> admin.resource(Manifests.diskIn(NS, c.name(), c.specYaml())).create())
          .as(c.name())
          .isInstanceOfSatisfying(
              KubernetesClientException.class,
              e -> {
                assertThat(e.getCode()).as(c.name()).isEqualTo(422);
                assertThat(e.getStatus().getMessage()).as(c.name()).contains(c.message());
                messages.add(e.getStatus().getMessage());
              });
      assertThat(get(c.name())).as(c.name() + " was not stored").isNull();
    }
    System.out.println("[real apiserver] refused at apply:\n  " + String.join("\n  ", messages));

    admin
        .resource(
            Manifests.diskIn(
                NS,
                "bad-dirs",
                "size: 16Mi\nnodeName: " + A + "\npopulate: {createDirs: [\"/tmp/../../etc\"]}"))
        .create();
    VirtualDisk refused =
        awaitCondition("bad-dirs", Conditions.READY, Conditions.FALSE, Reasons.INVALID_SPEC);
    assertThat(condition(refused, Conditions.READY).getMessage()).contains("no . or .. parts");
    assertThat(nodes.images(A)).noneMatch(i -> i.contains("bad-dirs"));
    delete("bad-dirs");
  }

  @Test
  @Order(3)
  void aCordonedNodeGetsNoNewDiskAndThePinnedDiskSaysWhy() {
    cordon(A, true);
    create("placed", Fixtures.spec(null, "16Mi", VirtualDiskSpec.Filesystem.none, null, null));
    create("pinned", Fixtures.spec(A, "16Mi", VirtualDiskSpec.Filesystem.none, null, null));
    assertThat(awaitReady("placed").getStatus().nodeName()).isEqualTo(B);
    VirtualDisk waiting =
        awaitCondition("pinned", Conditions.SCHEDULED, Conditions.FALSE, Reasons.NODE_CORDONED);
    assertThat(waiting.getStatus().phase()).isEqualTo(VirtualDiskStatus.Phase.Pending);
    assertThat(condition(waiting, Conditions.SCHEDULED).getMessage()).contains(A);
    assertThat(nodes.images(A)).noneMatch(i -> i.contains("pinned"));

    cordon(A, false);
    assertThat(awaitReady("pinned").getStatus().nodeName()).isEqualTo(A);
    delete("placed");
    delete("pinned");
  }

  @Test
  @Order(4)
  void deleteRemovesTheImageAndRetainKeepsIt() {
    create(
        "gone",
        Fixtures.spec(
            A,
            "16Mi",
            VirtualDiskSpec.Filesystem.none,
            null,
            VirtualDiskSpec.ReclaimPolicy.Delete));
    create(
        "kept",
        Fixtures.spec(
            A,
            "16Mi",
            VirtualDiskSpec.Filesystem.none,
            null,
            VirtualDiskSpec.ReclaimPolicy.Retain));
    Path gone = Path.of(awaitReady("gone").getStatus().path());
    Path kept = Path.of(awaitReady("kept").getStatus().path());
    delete("gone");
    delete("kept");
    assertThat(gone).doesNotExist();
    assertThat(kept).exists().hasSize(16 * MI);
  }

  @Test
  @Order(5)
  void deletingAnImageALoopDeviceHoldsIsBlockedUntilItIsDetached() {
    create("inuse", Fixtures.spec(A, "16Mi", VirtualDiskSpec.Filesystem.none, null, null));
    Path image = Path.of(awaitReady("inuse").getStatus().path());
    String loop = Exec.ok("losetup", "-f", "--show", image.toString()).strip();
    try {
      admin.resources(VirtualDisk.class).inNamespace(NS).withName("inuse").delete();
      VirtualDisk blocked =
          awaitCondition("inuse", Conditions.READY, Conditions.FALSE, Reasons.DELETION_BLOCKED);
      assertThat(blocked.getStatus().phase()).isEqualTo(VirtualDiskStatus.Phase.Deleting);
      assertThat(condition(blocked, Conditions.READY).getMessage()).startsWith("ImageInUse:");
      assertThat(image).exists();
    } finally {
      Exec.ok("losetup", "-d", loop);
    }
    await()
        .atMost(Duration.ofSeconds(30))
        .pollInterval(Duration.ofMillis(200))
        .until(() -> get("inuse") == null);
    assertThat(image).doesNotExist();
  }

  @Test
  @Order(6)
  void
      aStoppedAgentMakesItsNodeUnknownAndItsDisksLostAndADeletedDom0NodeKeepsThemBoundUntilItReturns() {
    create("survivor", Fixtures.spec(A, "16Mi", VirtualDiskSpec.Filesystem.none, null, null));
    create("doomed", Fixtures.spec(A, "16Mi", VirtualDiskSpec.Filesystem.none, null, null));
    Path survivor = Path.of(awaitReady("survivor").getStatus().path());
    Path doomed = Path.of(awaitReady("doomed").getStatus().path());

    nodes.stop(A);
    Instant stopped = Instant.now();
    Condition nodeReady = awaitNodeReady(A, Conditions.UNKNOWN);
    assertThat(nodeReady.getReason()).isEqualTo(Reasons.HEARTBEAT_MISSED);
    String last =
        admin.resources(Dom0Node.class).withName(A).get().getStatus().agent().lastHeartbeat();
    assertThat(nodeReady.getMessage())
        .startsWith("no heartbeat from the xenvbd agent of " + A + " since " + last);
    VirtualDisk lost =
        awaitCondition("survivor", Conditions.READY, Conditions.UNKNOWN, Reasons.NODE_LOST);
    System.out.println(
        "[real apiserver] NodeLost "
            + Duration.between(stopped, Instant.now()).toMillis()
            + " ms after the agent stopped: "
            + condition(lost, Conditions.READY).getMessage());
    assertThat(condition(lost, Conditions.READY).getMessage())
        .contains("no heartbeat from its agent since " + last);

    admin.resources(Dom0Node.class).withName(A).delete();
    VirtualDisk bound =
        awaitCondition("survivor", Conditions.READY, Conditions.UNKNOWN, Reasons.NODE_DELETED);
    assertThat(bound.getStatus().nodeName()).as("never rebound").isEqualTo(A);
    admin.resources(VirtualDisk.class).inNamespace(NS).withName("doomed").delete();
    VirtualDisk waiting =
        awaitCondition("doomed", Conditions.READY, Conditions.FALSE, Reasons.DELETION_BLOCKED);
    assertThat(condition(waiting, Conditions.READY).getMessage())
        .startsWith("NodeDeleted: Dom0Node " + A + " no longer exists")
        .contains("xenvbd.io/abandon-image=true");
    assertThat(survivor).exists();
    assertThat(doomed).as("nothing deleted while the node is gone").exists();
    assertThat(nodes.images(B)).noneMatch(i -> i.contains("survivor") || i.contains("doomed"));

    nodes.start(A); // registers its Dom0Node again
    assertThat(awaitNodeReady(A, Conditions.TRUE).getReason()).isEqualTo(Reasons.HEARTBEAT);
    assertThat(awaitReady("survivor").getStatus().nodeName()).isEqualTo(A);
    await()
        .atMost(Duration.ofSeconds(30))
        .pollInterval(Duration.ofMillis(200))
        .until(() -> get("doomed") == null);
    assertThat(doomed).as("the waiting deletion finished once the node was back").doesNotExist();
    delete("survivor");
  }

  private static Condition awaitNodeReady(String node, String status) {
    await()
        .atMost(Duration.ofSeconds(30))
        .pollInterval(Duration.ofMillis(200))
        .until(
            () -> {
              Dom0Node n = admin.resources(Dom0Node.class).withName(node).get();
              return n != null
                  && n.getStatus() != null
                  && Conditions.find(n.getStatus().conditions(), Conditions.READY)
                      .map(c -> status.equals(c.getStatus()))
                      .orElse(false);
            });
    return Conditions.find(
            admin.resources(Dom0Node.class).withName(node).get().getStatus().conditions(),
            Conditions.READY)
        .orElseThrow();
  }

  @Test
  @Order(7)
  void onlyTheLeaderActsAndWhenItIsKilledMidBuildTheStandbyFinishesThatBuildAndServesNewDisks()
      throws IOException {
    assertThat(first.isLeader()).isTrue();
    assertThat(second.isLeader()).isFalse();
    assertThat(second.metrics().count("xenvbd_operator_outcomes_total", "outcome=\"Done\""))
        .as("the standby acted")
        .isZero();
    assertThat(
            admin
                .leases()
                .inNamespace(NAMESPACE)
                .withName(LEASE)
                .get()
                .getSpec()
                .getHolderIdentity())
        .isEqualTo("op-1");

    // large enough that the build is still copying when the leader is killed (48 MiB was built
    // and Ready between two polls once the agent's answers stopped waiting for delayed ACKs)
    writeSource(384);
    long buildsBefore = nodes.builds(B);
    create(
        "slow",
        Fixtures.spec(
            B,
            "1Gi",
            null,
            new Populate(
                List.of(new Populate.HostPath(nodes.sources().toString(), "/data")),
                null,
                null,
                null,
                null),
            null));
    awaitBuilding("slow");
    first.close(); // killed: the Lease is not released, so the standby waits about one lease
    // duration
    await().atMost(Duration.ofSeconds(45)).until(second::isLeader);
    assertThat(
            admin
                .leases()
                .inNamespace(NAMESPACE)
                .withName(LEASE)
                .get()
                .getSpec()
                .getHolderIdentity())
        .isEqualTo("op-2");
    awaitReady("slow");
    assertThat(nodes.images(B))
        .filteredOn(i -> i.startsWith(NS + "/slow"))
        .containsExactly(NS + "/slow.img");
    assertThat(nodes.builds(B))
        .as("the build the first leader started was not run twice")
        .isEqualTo(buildsBefore + 1);
    Host.assertFsckClean(nodes.root(B).resolve(NS + "/slow.img"));

    create(
        "after-failover", Fixtures.spec(null, "16Mi", VirtualDiskSpec.Filesystem.none, null, null));
    awaitReady("after-failover");
    assertThat(second.metrics().count("xenvbd_operator_outcomes_total", "outcome=\"Done\""))
        .isPositive();
    delete("slow");
    delete("after-failover");
  }

  /**
   * Not a failover: the one running operator stops (a pod restarted, its in-memory state gone:
   * placement claims, backoffs, the last status written) while an agent builds, and a fresh one
   * starts under the same identity, so it takes its own Lease at once instead of waiting out a
   * lease duration. It finds the build where the agent has it and finishes it: Ready, one image,
   * one build, nothing left behind.
   */
  @Test
  @Order(8)
  void anOperatorStoppedMidBuildAndStartedAfreshFinishesThatBuildWithoutASecondOne()
      throws IOException {
    assertThat(second.isLeader()).isTrue();
    // large enough that the build is still copying when the operator stops right after the agent
    // took it (48 MiB was done by then once the image's write-out ran during the copy)
    writeSource(384);
    long buildsBefore = nodes.builds(B);
    create(
        "restart",
        Fixtures.spec(
            B,
            "1Gi",
            null,
            new Populate(
                List.of(new Populate.HostPath(nodes.sources().toString(), "/data")),
                null,
                null,
                null,
                null),
            null));
    awaitBuilding("restart");
    second.close();
    assertThat(get("restart").getStatus().phase())
        .as("the build was still running when the operator stopped")
        .isEqualTo(VirtualDiskStatus.Phase.Provisioning);

    restarted = XenvbdOperator.start(asOperator, replica("op-2"), nodes.clients());
    await().atMost(Duration.ofSeconds(15)).until(restarted::isLeader);
    VirtualDisk ready = awaitReady("restart");

    Path root = nodes.root(B);
    assertThat(ready.getStatus().path()).isEqualTo(root.resolve(NS + "/restart.img").toString());
    assertThat(nodes.images(B))
        .filteredOn(i -> i.startsWith(NS + "/restart"))
        .containsExactly(NS + "/restart.img");
    assertThat(Host.leftovers(root)).as("temporary files of a build").isEmpty();
    assertThat(Host.loopsUnder(root)).as("loop devices left attached").isEmpty();
    assertThat(Host.mountsUnder(root)).as("mounts left").isEmpty();
    assertThat(nodes.builds(B))
        .as("the build the stopped operator started was not run again")
        .isEqualTo(buildsBefore + 1);
    Host.assertFsckClean(root.resolve(NS + "/restart.img"));
    assertThat(restarted.metrics().count("xenvbd_operator_outcomes_total", "outcome=\"Done\""))
        .as("the fresh operator saw it through")
        .isPositive();
    delete("restart");
    assertThat(nodes.images(B)).filteredOn(i -> i.startsWith(NS + "/restart")).isEmpty();
  }

  @Test
  @Order(9)
  void theChartsRbacGrantsEveryCallTheScenariosMadeAndNothingTheyDidNot() {
    noCallWasForbidden();
    ApiServerAudit audit = kube.audit().since(started);
    List<PolicyRule> operatorRules =
        new ArrayList<>(rules(ClusterRole.class, "xv-xenvbd-operator"));
    operatorRules.addAll(rules(Role.class, "xv-xenvbd-operator-leader-election"));
    RbacGrants.assertExact(
        "operator", audit.by(OPERATOR).grantKeys(), operatorRules, OPERATOR_UNEXERCISED);
    RbacGrants.assertExact(
        "agent",
        audit.by(AGENT).grantKeys(),
        rules(ClusterRole.class, "xv-xenvbd-agent"),
        AGENT_UNEXERCISED);
    // The leader-election Role is namespaced: every lease call stays in the release namespace.
    assertThat(audit.by(OPERATOR).calls())
        .filteredOn(c -> c.resource().equals("leases"))
        .isNotEmpty()
        .allSatisfy(c -> assertThat(c.namespace()).as(c.toString()).isEqualTo(NAMESPACE));
  }

  private static List<PolicyRule> rules(Class<? extends HasMetadata> kind, String name) {
    HasMetadata o =
        rbac.stream()
            .filter(kind::isInstance)
            .filter(r -> r.getMetadata().getName().equals(name))
            .findFirst()
            .orElseThrow(
                () ->
                    new AssertionError(
                        "the chart renders no " + kind.getSimpleName() + " " + name));
    return o instanceof ClusterRole c ? c.getRules() : ((Role) o).getRules();
  }

  private static void create(String name, VirtualDiskSpec spec) {
    admin.resource(Fixtures.disk(NS, name, spec)).create();
  }

  private static VirtualDisk get(String name) {
    return admin.resources(VirtualDisk.class).inNamespace(NS).withName(name).get();
  }

  private static void delete(String name) {
    admin.resources(VirtualDisk.class).inNamespace(NS).withName(name).delete();
    await()
        .atMost(Duration.ofSeconds(30))
        .pollInterval(Duration.ofMillis(200))
        .until(() -> get(name) == null);
  }

  private static void patchSpec(String name, String mergePatch) {
    admin
        .resources(VirtualDisk.class)
        .inNamespace(NS)
        .withName(name)
        .patch(PatchContext.of(PatchType.JSON_MERGE), mergePatch);
  }

  private static void cordon(String node, boolean unschedulable) {
    admin
        .resources(Dom0Node.class)
        .withName(node)
        .patch(
            PatchContext.of(PatchType.JSON_MERGE),
            "{\"spec\":{\"unschedulable\":" + unschedulable + "}}");
  }

  private static Condition condition(VirtualDisk d, String type) {
    return d == null || d.getStatus() == null
        ? null
        : Conditions.find(d.getStatus().conditions(), type).orElse(null);
  }

  /**
   * Provisioned=False/Provisioning: a state that lasts as long as the build, so it is looked for
   * every 20 ms (a poll every 200 ms could miss a build that ends in between).
   */
  private static void awaitBuilding(String name) {
    awaitCondition(
        name,
        Conditions.PROVISIONED,
        Conditions.FALSE,
        Reasons.PROVISIONING,
        Duration.ofMillis(20));
  }

  private static VirtualDisk awaitCondition(
      String name, String type, String status, String reason) {
    return awaitCondition(name, type, status, reason, Duration.ofMillis(200));
  }

  private static VirtualDisk awaitCondition(
      String name, String type, String status, String reason, Duration poll) {
    await()
        .atMost(Duration.ofSeconds(30))
        .pollInterval(poll)
        .until(
            () -> {
              Condition c = condition(get(name), type);
              return c != null
                  && status.equals(c.getStatus())
                  && (reason == null || reason.equals(c.getReason()));
            });
    return get(name);
  }

  private static VirtualDisk awaitReady(String name) {
    return awaitCondition(name, Conditions.READY, Conditions.TRUE, null);
  }

  /** Random (incompressible, non-sparse) files so that populating takes a noticeable moment. */
  private static void writeSource(int mib) throws IOException {
    Files.createDirectories(nodes.sources());
    Random random = new Random(1);
    byte[] chunk = new byte[1 << 20];
    for (int f = 0; f < mib / 8; f++) {
      try (OutputStream out = Files.newOutputStream(nodes.sources().resolve("f" + f + ".bin"))) {
        for (int i = 0; i < 8; i++) {
          random.nextBytes(chunk);
          out.write(chunk);
        }
      }
    }
  }

  /** Block count x block size from the superblock: what the filesystem itself says its size is. */
  private static long ext4Bytes(Path image) {
    long blocks = 0;
    long size = 0;
    for (String line : Exec.ok("dumpe2fs", "-h", image.toString()).split("\n")) {
      if (line.startsWith("Block count:")) blocks = Long.parseLong(line.substring(12).strip());
      if (line.startsWith("Block size:")) size = Long.parseLong(line.substring(11).strip());
    }
    return blocks * size;
  }
}
