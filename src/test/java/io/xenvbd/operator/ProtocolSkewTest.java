package io.xenvbd.operator;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.catchThrowableOfType;
import static org.awaitility.Awaitility.await;

import io.xenvbd.api.Conditions;
import io.xenvbd.api.Dom0Node;
import io.xenvbd.api.Populate;
import io.xenvbd.api.Reasons;
import io.xenvbd.api.VirtualDisk;
import io.xenvbd.api.VirtualDiskSpec;
import io.xenvbd.api.VirtualDiskStatus;
import io.xenvbd.protocol.AgentException;
import io.xenvbd.protocol.DiskSpec;
import io.xenvbd.protocol.ErrorCodes;
import io.xenvbd.protocol.Protocol;
import io.xenvbd.protocol.PutDiskRequest;
import io.xenvbd.testing.RequiresRoot;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * Operators and agents are upgraded at different times: an operator one protocol version ahead of
 * its agent, and one behind, over real HTTPS against a real agent, as a user sees it in the
 * VirtualDisk's status. The other version is simulated by a {@link Protocol} instance given to one
 * end (its version, minimum and field table); nothing global changes, so this runs beside other
 * tests.
 */
@RequiresRoot
class ProtocolSkewTest {
  static final int N = Protocol.VERSION;

  /** The version that brought spec.populate.cloneFrom.uid. */
  static final int CLONE_UID = 3;

  /** The version that brought adoption and the release call. */
  static final int ADOPT = Protocol.RELEASE_SINCE;

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
  void start() {
    h = new OperatorHarness(api);
    nodes = new RealNodes(dir, api.client);
  }

  @AfterEach
  void stop() {
    h.stopOperator();
    nodes.close();
    h.close();
  }

  @Test
  void anOperatorAheadSendsAnOlderAgentOnlyWhatItKnowsAndTheDisksAreReady() {
    Protocol behind =
        Protocol.simulated(CLONE_UID - 1, Protocol.MIN_SUPPORTED, Protocol.Field.TABLE);
    String endpoint = startNode(behind, Protocol.CURRENT);
    assertThat(announced("node-a")).isEqualTo(CLONE_UID - 1);

    cloneOfBase(); // protocol 3 adds cloneFrom.uid: left out for the older agent, which clones by
    // name

    // what the older agent does with the field the operator left out: refuses it, as a real one
    // would
    DiskSpec withUid =
        new DiskSpec(
            null,
            "8Mi",
            DiskSpec.Filesystem.none,
            new DiskSpec.Populate(
                null, null, new DiskSpec.CloneFrom("base", "some-uid"), null, null),
            null,
            null,
            null,
            null);
    AgentException refused =
        catchThrowableOfType(
            () ->
                nodes
                    .clients()
                    .forNode("node-a", endpoint)
                    .putDisk("ns1", "direct", new PutDiskRequest("uid-direct", withUid)),
            AgentException.class);
    assertThat(refused.httpStatus()).isEqualTo(400);
    assertThat(refused.code()).isEqualTo(ErrorCodes.INVALID_REQUEST);
    assertThat(refused.getMessage()).contains("unknown field spec.populate.cloneFrom.uid");
  }

  @Test
  void anAgentOneVersionBehindGetsNoAdoptionAndItsRetainedImagesAreKeptButNotReleased()
      throws Exception {
    Protocol behind = Protocol.simulated(ADOPT - 1, Protocol.MIN_SUPPORTED, Protocol.Field.TABLE);
    startNode(behind, Protocol.CURRENT);
    assertThat(ADOPT - 1)
        .as("adoption and release came with protocol 4")
        .isLessThan(Protocol.RELEASE_SINCE);

    h.create(
        Fixtures.disk(
            "ns1",
            "adopter",
            new VirtualDiskSpec(
                "node-a",
                "8Mi",
                VirtualDiskSpec.Filesystem.none,
                new Populate(
                    null, null, null, null, null, new Populate.Adopt(null, null, null, "vm1disk")),
                null,
                null,
                false,
                null)));
    VirtualDisk d =
        h.awaitCondition(
            "ns1", "adopter", Conditions.READY, Conditions.FALSE, Reasons.AGENT_TOO_OLD);
    assertThat(h.condition(d, Conditions.READY).getMessage())
        .isEqualTo(
            "this disk needs spec.populate.adopt, which"
                + " came with agent protocol "
                + ADOPT
                + ", but the agent on node node-a speaks protocol "
                + (ADOPT - 1)
                + ": upgrade the agent on node node-a (nothing was sent to it, so nothing was built or changed)");

    h.create(
        Fixtures.disk(
            "ns1",
            "kept",
            new VirtualDiskSpec(
                null,
                "8Mi",
                VirtualDiskSpec.Filesystem.none,
                null,
                null,
                null,
                false,
                VirtualDiskSpec.ReclaimPolicy.Retain)));
    h.awaitReady("ns1", "kept");
    api.client.resources(VirtualDisk.class).inNamespace("ns1").withName("kept").delete();
    await().atMost(Duration.ofSeconds(20)).until(() -> h.get("ns1", "kept") == null);
    assertThat(h.events("ns1", "kept"))
        .anyMatch(
            e ->
                e.startsWith("Normal Retained:")
                    && e.contains("is not marked released")
                    && e.contains("speaks protocol " + (ADOPT - 1)));
    assertThat(nodes.images("node-a")).containsExactly("ns1/kept.img");
    Thread.sleep(500);
    assertThat(nodes.builds("node-a")).isEqualTo(1);
  }

  @Test
  void anOperatorOneVersionAheadRefusesADiskThatNeedsAFieldTheAgentLacksWithAgentTooOld()
      throws Exception {
    // No field yet is required and newer than the agent, so the next version gets a made-up one:
    // "preallocate: true came with protocol N+1", in the ahead operator's field table only.
    List<Protocol.Field> table = new ArrayList<>(Protocol.Field.TABLE);
    table.add(
        new Protocol.Field(
            "spec.preallocate", N + 1, s -> Boolean.TRUE.equals(s.preallocate()), null));
    Protocol ahead = Protocol.simulated(N + 1, Protocol.MIN_SUPPORTED, table);
    startNode(Protocol.CURRENT, ahead);

    h.create(Fixtures.disk("ns1", "plain", spec("8Mi", null, false)));
    h.create(Fixtures.disk("ns1", "needs", spec("8Mi", null, true)));
    h.awaitReady("ns1", "plain");
    VirtualDisk d =
        h.awaitCondition("ns1", "needs", Conditions.READY, Conditions.FALSE, Reasons.AGENT_TOO_OLD);
    String message = h.condition(d, Conditions.READY).getMessage();
    assertThat(message)
        .isEqualTo(
            "this disk needs spec.preallocate, which came with agent protocol "
                + (N + 1)
                + ", but the agent on node node-a speaks protocol "
                + N
                + ": upgrade the agent on node node-a"
                + " (nothing was sent to it, so nothing was built or changed)");
    assertThat(h.condition(d, Conditions.PROVISIONED).getReason()).isEqualTo(Reasons.AGENT_TOO_OLD);
    assertThat(d.getStatus().phase()).isEqualTo(VirtualDiskStatus.Phase.Pending);
    assertThat(d.getStatus().nodeName()).isEqualTo("node-a");
    await()
        .untilAsserted(
            () -> assertThat(h.events("ns1", "needs")).contains("Warning AgentTooOld: " + message));
    Thread.sleep(500); // a wrongly sent build would have started by now
    assertThat(nodes.images("node-a")).containsExactly("ns1/plain.img");
    assertThat(nodes.builds("node-a")).isEqualTo(1);
  }

  @Test
  void anOperatorOneVersionBehindWorksWithANewerAgent() {
    Protocol behind = Protocol.simulated(N - 1, Protocol.MIN_SUPPORTED, Protocol.Field.TABLE);
    Protocol ahead = Protocol.simulated(N + 1, Protocol.MIN_SUPPORTED, Protocol.Field.TABLE);
    startNode(ahead, behind);
    assertThat(announced("node-a")).isEqualTo(N + 1);
    cloneOfBase();
  }

  @Test
  void aNewerAgentThatNoLongerServesTheOperatorsVersionGivesOperatorTooOldAndBuildsNothing()
      throws Exception {
    Protocol ahead =
        Protocol.simulated(N + 1, N + 1, Protocol.Field.TABLE); // dropped support for N
    startNode(ahead, Protocol.CURRENT);

    h.create(Fixtures.disk("ns1", "d", spec("8Mi", null, false)));
    VirtualDisk d =
        h.awaitCondition("ns1", "d", Conditions.READY, Conditions.FALSE, Reasons.OPERATOR_TOO_OLD);
    assertThat(h.condition(d, Conditions.READY).getMessage())
        .startsWith("dom0 node node-a: agent at ")
        .endsWith(
            ": the operator speaks agent protocol "
                + N
                + " but this agent needs at least "
                + (N + 1)
                + " (it speaks "
                + (N + 1)
                + "): upgrade the operator");
    assertThat(d.getStatus().phase()).isEqualTo(VirtualDiskStatus.Phase.Pending);
    Thread.sleep(500);
    assertThat(nodes.images("node-a")).isEmpty();
  }

  /**
   * node-a's agent speaks {@code agent}; the operator speaks {@code operator}. Returns the agent's
   * endpoint.
   */
  private String startNode(Protocol agent, Protocol operator) {
    String endpoint = nodes.start("node-a", agent).endpoint().toString();
    await()
        .atMost(Duration.ofSeconds(10))
        .until(
            () -> {
              Dom0Node n = api.client.resources(Dom0Node.class).withName("node-a").get();
              return n != null && n.getStatus() != null && n.getStatus().storage() != null;
            });
    h.start(nodes.clients(operator), operator);
    return endpoint;
  }

  private Integer announced(String node) {
    return api.client
        .resources(Dom0Node.class)
        .withName(node)
        .get()
        .getStatus()
        .agent()
        .protocolVersion();
  }

  /** A disk and a clone of it, both Ready, and both images on the node. */
  private void cloneOfBase() {
    h.create(Fixtures.disk("ns1", "base", spec("8Mi", null, false)));
    h.awaitReady("ns1", "base");
    h.create(
        Fixtures.disk(
            "ns1",
            "copy",
            spec(
                "8Mi",
                new Populate(null, null, new Populate.CloneFrom("base"), null, null),
                false)));
    assertThat(h.awaitReady("ns1", "copy").getStatus().capacityBytes()).isEqualTo(8L << 20);
    assertThat(nodes.images("node-a")).containsExactly("ns1/base.img", "ns1/copy.img");
  }

  private static VirtualDiskSpec spec(String size, Populate populate, boolean preallocate) {
    return new VirtualDiskSpec(
        null, size, VirtualDiskSpec.Filesystem.none, populate, null, null, preallocate, null);
  }
}
