package io.xenvbd.operator;

import static io.xenvbd.operator.Fixtures.GI;
import static org.assertj.core.api.Assertions.assertThat;

import io.fabric8.kubernetes.api.model.ConditionBuilder;
import io.xenvbd.api.Dom0Node;
import io.xenvbd.api.Reasons;
import io.xenvbd.api.VirtualDisk;
import io.xenvbd.api.VirtualDiskStatus;
import java.time.Clock;
import java.time.Instant;
import java.time.ZoneOffset;
import java.util.ArrayList;
import java.util.List;
import java.util.UUID;
import org.junit.jupiter.api.Test;

/** Placement decisions from plain objects. */
class PlacerTest {
  static final Instant NOW = Instant.parse("2026-01-01T12:00:00Z");
  static final Clock CLOCK = Clock.fixed(NOW, ZoneOffset.UTC);

  final List<Dom0Node> nodes = new ArrayList<>();
  final List<VirtualDisk> disks = new ArrayList<>();
  final Placer placer = new Placer(ClusterView.of(nodes, disks), CLOCK);

  static Dom0Node node(String name, long capacity, long promised) {
    return Fixtures.node(name, capacity, promised, 8, 1, false, NOW.minusSeconds(5), 10);
  }

  static VirtualDisk disk(String name, String size) {
    VirtualDisk d = Fixtures.disk("ns", name, size);
    d.getMetadata().setUid(UUID.randomUUID().toString());
    return d;
  }

  @Test
  void choosesTheLeastCommittedFractionNotTheMostFreeBytes() {
    nodes.add(node("big", 100 * GI, 60 * GI)); // 60% committed, 40Gi left
    nodes.add(node("small", 10 * GI, 2 * GI)); // 20% committed, 8Gi left
    assertThat(placer.place(disk("d", "1Gi"), GI).nodeName()).isEqualTo("small");
  }

  @Test
  void skipsCordonedStaleAndLooplessNodes() {
    nodes.add(Fixtures.node("cordoned", 100 * GI, 0, 8, 0, true, NOW, 10));
    nodes.add(Fixtures.node("stale", 100 * GI, 0, 8, 0, false, NOW.minusSeconds(31), 10));
    nodes.add(Fixtures.node("noloop", 100 * GI, 0, 8, 8, false, NOW, 10));
    nodes.add(node("ok", 100 * GI, 90 * GI));
    assertThat(placer.place(disk("d", "1Gi"), GI).nodeName()).isEqualTo("ok");
  }

  @Test
  void heartbeatWithinThreeIntervalsIsFresh() {
    nodes.add(Fixtures.node("a", 100 * GI, 0, 8, 0, false, NOW.minusSeconds(30), 10));
    assertThat(placer.place(disk("d", "1Gi"), GI).placed()).isTrue();
  }

  @Test
  void namesStorageAsTheShortageWhenOnlyStorageIsShort() {
    nodes.add(node("a", 10 * GI, 9 * GI));
    Placer.Placement p = placer.place(disk("d", "2Gi"), 2 * GI);
    assertThat(p.placed()).isFalse();
    assertThat(p.reason()).isEqualTo(Reasons.INSUFFICIENT_STORAGE);
    assertThat(p.message()).contains("no dom0 node fits 2Gi", "a: 1Gi left to promise");
  }

  @Test
  void namesLoopDevicesWhenOnlyLoopDevicesAreShort() {
    nodes.add(Fixtures.node("a", 10 * GI, 0, 8, 8, false, NOW, 10));
    assertThat(placer.place(disk("d", "1Gi"), GI).reason()).isEqualTo(Reasons.LOOP_DEVICES_EXHAUSTED);
  }

  @Test
  void mixedShortagesAndNoNodesSayNoNodeFits() {
    assertThat(placer.place(disk("d", "1Gi"), GI).reason()).isEqualTo(Reasons.NO_NODE_FITS);
    nodes.add(Fixtures.node("a", 10 * GI, 0, 8, 8, false, NOW, 10));
    nodes.add(node("b", 10 * GI, 10 * GI));
    assertThat(placer.place(disk("d", "1Gi"), GI).reason()).isEqualTo(Reasons.NO_NODE_FITS);
  }

  @Test
  void overcommitRatioRaisesTheBound() {
    Dom0Node a = node("a", 10 * GI, 10 * GI);
    a.setSpec(new io.xenvbd.api.Dom0NodeSpec(false, 2.0));
    nodes.add(a);
    assertThat(placer.place(disk("d", "5Gi"), 5 * GI).nodeName()).isEqualTo("a");
  }

  @Test
  void twoDisksPlacedBackToBackCannotBothTakeTheLastRoom() {
    nodes.add(node("a", 10 * GI, 6 * GI));
    assertThat(placer.place(disk("first", "3Gi"), 3 * GI).placed()).isTrue();
    // the first disk's status is not in the cache yet: the placer's own claim still counts
    Placer.Placement second = placer.place(disk("second", "3Gi"), 3 * GI);
    assertThat(second.placed()).isFalse();
    assertThat(second.reason()).isEqualTo(Reasons.INSUFFICIENT_STORAGE);
  }

  @Test
  void placedButUnbuiltDisksInTheCacheCount() {
    nodes.add(node("a", 10 * GI, 2 * GI));
    VirtualDisk building = disk("building", "7Gi");
    building.setStatus(new VirtualDiskStatus(VirtualDiskStatus.Phase.Provisioning, 1L, "a", null, null, null, null,
        null, null, null, null, null, List.of()));
    disks.add(building);
    assertThat(placer.place(disk("d", "2Gi"), 2 * GI).placed()).isFalse();
  }

  @Test
  void builtDisksCountOnlyUntilTheHeartbeatIncludesThem() {
    nodes.add(node("a", 10 * GI, 2 * GI)); // heartbeat at NOW-5s
    VirtualDisk built = disk("built", "7Gi");
    disks.add(built);
    setProvisionedAt(built, NOW.minusSeconds(2)); // after the heartbeat: not in promisedBytes yet
    assertThat(placer.place(disk("d", "2Gi"), 2 * GI).placed()).isFalse();
    setProvisionedAt(built, NOW.minusSeconds(60)); // long before: the heartbeat's promisedBytes has it
    assertThat(placer.place(disk("e", "2Gi"), 2 * GI).placed()).isTrue();
  }

  @Test
  void requestedNodeIsUsedWhenItExists() {
    nodes.add(node("a", 10 * GI, 0));
    VirtualDisk d = Fixtures.disk("ns", "d", Fixtures.spec("a", "1Gi", null, null, null));
    d.getMetadata().setUid("u");
    assertThat(placer.place(d, GI).nodeName()).isEqualTo("a");
    VirtualDisk e = Fixtures.disk("ns", "e", Fixtures.spec("nowhere", "1Gi", null, null, null));
    e.getMetadata().setUid("v");
    assertThat(placer.place(e, GI).reason()).isEqualTo(Reasons.NODE_NOT_FOUND);
  }

  private static void setProvisionedAt(VirtualDisk d, Instant at) {
    d.setStatus(new VirtualDiskStatus(VirtualDiskStatus.Phase.Ready, 1L, "a", "/x", 7 * GI, 1L, "1B", null, null,
        null, null, null, List.of(new ConditionBuilder().withType("Provisioned").withStatus("True").withReason("Provisioned")
            .withLastTransitionTime(at.toString()).build())));
  }
}
