package io.xenvbd.operator;

import static io.xenvbd.operator.Fixtures.GI;
import static org.assertj.core.api.Assertions.assertThat;

import io.javaoperatorsdk.operator.processing.event.ResourceID;
import io.xenvbd.api.Conditions;
import io.xenvbd.api.Dom0Node;
import io.xenvbd.api.Dom0NodeStatus;
import io.xenvbd.api.Reasons;
import io.xenvbd.api.VirtualDisk;
import java.time.Clock;
import java.time.Instant;
import java.time.ZoneOffset;
import java.util.ArrayList;
import java.util.List;
import java.util.Set;
import java.util.stream.Collectors;
import org.junit.jupiter.api.Test;

/**
 * Which disks a change of a Dom0Node (a heartbeat, a freed loop device, a cordon) reconciles again.
 */
class InformerClusterViewTest {
  static final Instant NOW = Instant.parse("2026-01-01T12:00:00Z");
  static final Clock CLOCK = Clock.fixed(NOW, ZoneOffset.UTC);
  static final Dom0Node A_WITH_LOOPS = node("a", 1);
  static final Dom0Node A_NO_LOOPS = node("a", 8);
  static final Dom0Node B = node("b", 1);

  final List<VirtualDisk> disks = new ArrayList<>();

  static Dom0Node node(String name, int loopsInUse) {
    return Fixtures.node(name, 100 * GI, 0, 8, loopsInUse, false, NOW, 10);
  }

  /** A disk whose status the given steps left, each built against the node as it was then. */
  VirtualDisk disk(String name, Dom0Node on, Outcome... steps) {
    VirtualDisk d = Fixtures.disk("ns", name, "1Gi");
    d.getMetadata().setUid("uid-" + name);
    StatusBuilder statuses = new StatusBuilder(CLOCK);
    for (Outcome o : steps)
      d.setStatus(statuses.build(d, on == null ? null : on.getMetadata().getName(), on, o));
    disks.add(d);
    return d;
  }

  Set<String> wokenBy(Dom0Node node) {
    return InformerClusterView.waitingOn(node, disks).stream()
        .map(ResourceID::getName)
        .collect(Collectors.toSet());
  }

  static Outcome ready(long capacity) {
    return new Outcome.Done(StatusBuilderTest.ready(capacity));
  }

  @Test
  void aNodeChangeWakesTheDisksThatMayMoveAndLeavesSettledOnesToTheirRecheck() {
    disk("new", null);
    disk(
        "unplaced",
        null,
        new Outcome.Unschedulable(Reasons.INSUFFICIENT_STORAGE, "no dom0 node fits 1Gi now"));
    disk(
        "building-on-a",
        A_WITH_LOOPS,
        new Outcome.Working(StatusBuilderTest.building("Format", 40)));
    disk(
        "unreachable-on-a",
        A_WITH_LOOPS,
        ready(GI),
        new Outcome.Unreachable(Reasons.NODE_UNREACHABLE, "gone"));
    disk("building-on-b", B, new Outcome.Working(StatusBuilderTest.building("Format", 40)));
    disk("ready-on-a", A_WITH_LOOPS, ready(GI));
    disk("ready-on-b", B, ready(GI));
    disk(
        "grow-refused-on-a",
        A_WITH_LOOPS,
        ready(GI),
        new Outcome.GrowRefused(
            StatusBuilderTest.ready(GI), Reasons.INSUFFICIENT_STORAGE, "no room"));
    disk(
        "grow-refused-on-b",
        B,
        ready(GI),
        new Outcome.GrowRefused(
            StatusBuilderTest.ready(GI), Reasons.QUOTA_EXCEEDED, "over the ceiling"));
    disk(
        "build-refused-on-a",
        A_WITH_LOOPS,
        new Outcome.Unschedulable(
            Reasons.INSUFFICIENT_STORAGE, "building the image at spec.size 1Gi is refused"));

    assertThat(wokenBy(A_WITH_LOOPS))
        .containsExactlyInAnyOrder(
            "new",
            "unplaced",
            "building-on-a",
            "unreachable-on-a",
            "grow-refused-on-a",
            "build-refused-on-a");
    assertThat(wokenBy(B))
        .containsExactlyInAnyOrder("new", "unplaced", "building-on-b", "grow-refused-on-b");
  }

  @Test
  void aReadyDiskIsWokenWhenItsNodesLoopDevicesContradictItsLoopDeviceAvailableCondition() {
    disk("says-free", A_WITH_LOOPS, ready(GI));
    disk("says-exhausted", A_NO_LOOPS, ready(GI));
    assertThat(wokenBy(A_NO_LOOPS)).containsExactly("says-free");
    assertThat(wokenBy(A_WITH_LOOPS)).containsExactly("says-exhausted");
  }

  @Test
  void beforeTheInformersAreConnectedTheViewIsEmpty() {
    InformerClusterView view = new InformerClusterView();
    assertThat(view.nodes()).isEmpty();
    assertThat(view.disks()).isEmpty();
    assertThat(view.node("a")).isEmpty();
  }

  @Test
  void aNodeTurnedUnknownOrDeletedWakesEveryDiskOnItAndNoOther() {
    disk("new", null);
    disk("ready-on-a", A_WITH_LOOPS, ready(GI));
    disk("ready-on-b", B, ready(GI));
    assertThat(wokenBy(A_WITH_LOOPS)).containsExactlyInAnyOrder("new");

    Dom0Node unknown = node("a", 1);
    Dom0NodeStatus s = unknown.getStatus();
    unknown.setStatus(
        new Dom0NodeStatus(
            s.agent(),
            s.loopDevices(),
            s.storage(),
            s.disks(),
            s.orphans(),
            Conditions.set(
                s.conditions(),
                Conditions.READY,
                Conditions.UNKNOWN,
                Reasons.HEARTBEAT_MISSED,
                "no heartbeat",
                1L,
                CLOCK)));
    assertThat(wokenBy(unknown))
        .as("the Ready disk on the lost node, and those waiting for any node")
        .containsExactlyInAnyOrder("ready-on-a", "new");
    assertThat(
            InformerClusterView.waitingOn(A_WITH_LOOPS, disks, true).stream()
                .map(ResourceID::getName)
                .collect(Collectors.toSet()))
        .as("a deleted node: only the disks bound to it")
        .containsExactly("ready-on-a");
  }
}
