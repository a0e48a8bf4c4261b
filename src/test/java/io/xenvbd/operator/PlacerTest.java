package io.xenvbd.operator;

import static io.xenvbd.operator.Fixtures.GI;
import static org.assertj.core.api.Assertions.assertThat;

import io.fabric8.kubernetes.api.model.Condition;
import io.fabric8.kubernetes.api.model.ConditionBuilder;
import io.xenvbd.api.Conditions;
import io.xenvbd.api.Dom0Node;
import io.xenvbd.api.Dom0NodeSpec;
import io.xenvbd.api.Populate;
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
    assertThat(placer.place(disk("d", "1Gi"), GI).reason())
        .isEqualTo(Reasons.LOOP_DEVICES_EXHAUSTED);
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
    a.setSpec(new Dom0NodeSpec(false, 2.0));
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
    building.setStatus(
        new VirtualDiskStatus(
            VirtualDiskStatus.Phase.Provisioning,
            1L,
            "a",
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
    setProvisionedAt(
        built, NOW.minusSeconds(60)); // long before: the heartbeat's promisedBytes has it
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

  // --- spec.nodeName gets the same rules as a node the operator chooses

  static VirtualDisk pinned(String ns, String name, String node, String size, Populate populate) {
    VirtualDisk d = Fixtures.disk(ns, name, Fixtures.spec(node, size, null, populate, null));
    d.getMetadata().setUid(UUID.randomUUID().toString());
    return d;
  }

  static Dom0Node withSpec(Dom0Node node, Dom0NodeSpec spec) {
    node.setSpec(spec);
    return node;
  }

  @Test
  void aCordonedNodeNamedBySpecNodeNameIsRefusedWithWhatToChange() {
    nodes.add(Fixtures.node("a", 100 * GI, 0, 8, 0, true, NOW, 10));
    Placer.Placement p = placer.place(pinned("ns", "d", "a", "1Gi", null), GI);
    assertThat(p.placed()).isFalse();
    assertThat(p.reason()).isEqualTo(Reasons.NODE_CORDONED);
    assertThat(p.message())
        .contains(
            "Dom0Node a is cordoned", "uncordon it", "another spec.nodeName", "stays Pending");
  }

  @Test
  void aNamedNodeWithAStaleHeartbeatIsRefusedAsNotReady() {
    nodes.add(Fixtures.node("a", 100 * GI, 0, 8, 0, false, NOW.minusSeconds(31), 10));
    Placer.Placement p = placer.place(pinned("ns", "d", "a", "1Gi", null), GI);
    assertThat(p.reason()).isEqualTo(Reasons.NODE_NOT_READY);
    assertThat(p.message()).contains("missed its heartbeats", "once its agent is Ready again");
  }

  @Test
  void aNamedNodeWithoutAFreeLoopDeviceRefusesOnlyBuildsThatMount() {
    nodes.add(Fixtures.node("a", 100 * GI, 0, 8, 8, false, NOW, 10));
    var loopMount = new Populate(null, null, null, List.of("/tmp"), Populate.Method.LoopMount);
    Placer.Placement p = placer.place(pinned("ns", "mounted", "a", "1Gi", loopMount), GI);
    assertThat(p.reason()).isEqualTo(Reasons.LOOP_DEVICES_EXHAUSTED);
    assertThat(p.message()).contains("no free loop device (8/8 in use)", "populate.method Offline");

    var offline = new Populate(null, null, null, List.of("/tmp"), Populate.Method.Offline);
    assertThat(placer.place(pinned("ns", "offline", "a", "1Gi", offline), GI).nodeName())
        .isEqualTo("a");
    assertThat(placer.place(pinned("ns", "empty", "a", "1Gi", null), GI).nodeName()).isEqualTo("a");
  }

  @Test
  void aNamedNodeIsHeldToItsCapacity() {
    nodes.add(node("a", 250 * GI, 200 * GI));
    Placer.Placement p = placer.place(pinned("ns", "d", "a", "100Gi", null), 100 * GI);
    assertThat(p.reason()).isEqualTo(Reasons.INSUFFICIENT_STORAGE);
    assertThat(p.message())
        .contains(
            "Dom0Node a has 50Gi left to promise", "needs 100Gi", "free space", "overcommitRatio");
    assertThat(placer.place(pinned("ns", "e", "a", "50Gi", null), 50 * GI).nodeName())
        .isEqualTo("a");
  }

  @Test
  void aCloneIsRefusedWhenItsSourcesNodeIsCordoned() {
    nodes.add(Fixtures.node("a", 100 * GI, 0, 8, 0, true, NOW, 10));
    VirtualDisk base = pinned("ns", "base", "a", "1Gi", null);
    setBuilt(base, "a", GI, NOW.minusSeconds(60));
    disks.add(base);
    var clone = new Populate(null, null, new Populate.CloneFrom("base"), null, null);
    Placer.Placement p = placer.place(pinned("ns", "copy", null, "1Gi", clone), GI);
    assertThat(p.reason()).isEqualTo(Reasons.NODE_CORDONED);
    assertThat(p.message())
        .contains("set spec.nodeName to a node with room (the source is streamed there)");
  }

  // --- namespaces and their ceiling

  @Test
  void allowedNamespacesBindBothChosenAndNamedNodesWithoutNamingOtherTenants() {
    nodes.add(
        withSpec(node("a", 100 * GI, 0), new Dom0NodeSpec(false, 1.0, List.of("team-a"), null)));
    nodes.add(
        withSpec(
            node("b", 100 * GI, 50 * GI), new Dom0NodeSpec(false, 1.0, List.of("team-b"), null)));
    assertThat(placer.place(pinned("team-b", "d", null, "1Gi", null), GI).nodeName())
        .isEqualTo("b");

    Placer.Placement named = placer.place(pinned("team-b", "e", "a", "1Gi", null), GI);
    assertThat(named.reason()).isEqualTo(Reasons.NAMESPACE_NOT_ALLOWED);
    assertThat(named.message())
        .contains("does not take disks from namespace team-b", "cluster admin")
        .doesNotContain("team-a");

    Placer.Placement nowhere = placer.place(pinned("team-c", "f", null, "1Gi", null), GI);
    assertThat(nowhere.reason()).isEqualTo(Reasons.NAMESPACE_NOT_ALLOWED);
    assertThat(nowhere.message())
        .contains("a: namespace team-c not allowed", "b: namespace team-c not allowed");
  }

  @Test
  void aNamespacesDisksOnANodeStayUnderItsMaxBytesPerNamespace() {
    nodes.add(withSpec(node("a", 100 * GI, 0), new Dom0NodeSpec(false, 1.0, null, "10Gi")));
    VirtualDisk first = pinned("ns", "first", "a", "6Gi", null);
    setBuilt(first, "a", 6 * GI, NOW.minusSeconds(60));
    disks.add(first);

    Placer.Placement over = placer.place(pinned("ns", "second", "a", "5Gi", null), 5 * GI);
    assertThat(over.reason()).isEqualTo(Reasons.QUOTA_EXCEEDED);
    assertThat(over.message())
        .contains(
            "namespace ns", "would total 11Gi", "spec.maxBytesPerNamespace 10Gi", "delete disks");
    assertThat(placer.place(pinned("ns", "third", "a", "4Gi", null), 4 * GI).nodeName())
        .isEqualTo("a");
    // another namespace has its own ceiling, and the operator's own claims count at once
    assertThat(placer.place(pinned("other", "g", null, "10Gi", null), 10 * GI).nodeName())
        .isEqualTo("a");
    assertThat(placer.place(pinned("other", "h", null, "1Gi", null), GI).reason())
        .isEqualTo(Reasons.QUOTA_EXCEEDED);
  }

  // --- grows

  @Test
  void aGrowBeyondTheNodesRoomIsRefusedAndThenCostsLaterDisksNothing() {
    Dom0Node a = node("a", 250 * GI, 2 * GI); // the heartbeat (NOW-5s) includes the 2Gi image
    nodes.add(a);
    VirtualDisk grown = pinned("ns", "grown", "a", "10Ti", null);
    setBuilt(grown, "a", 2 * GI, NOW.minusSeconds(60));
    disks.add(grown);

    var refused = placer.admitSize(grown, a, 10L << 40, 2 * GI);
    assertThat(refused).isPresent();
    assertThat(refused.get().reason()).isEqualTo(Reasons.INSUFFICIENT_STORAGE);
    assertThat(refused.get().message())
        .contains(
            "growing the image from 2Gi to 10Ti is refused",
            "248Gi left to promise",
            "stays usable at 2Gi",
            "free space on a");

    markGrowRefused(grown, refused.get().reason());
    Placer.Placement later = placer.place(pinned("ns", "later", null, "200Gi", null), 200 * GI);
    assertThat(later.nodeName()).as("a refused grow promises nothing").isEqualTo("a");
  }

  @Test
  void anAdmittedGrowCountsAtOnceAgainstTheNextGrow() {
    Dom0Node a = node("a", 9 * GI, 4 * GI); // room for one of the two 3Gi growths
    nodes.add(a);
    VirtualDisk x = pinned("ns", "x", "a", "5Gi", null);
    VirtualDisk y = pinned("ns", "y", "a", "5Gi", null);
    setBuilt(x, "a", 2 * GI, NOW.minusSeconds(60));
    setBuilt(y, "a", 2 * GI, NOW.minusSeconds(60));
    markGrowRefused(
        x,
        Reasons
            .INSUFFICIENT_STORAGE); // both were refused once: neither counts its growth in status
    markGrowRefused(y, Reasons.INSUFFICIENT_STORAGE);
    disks.add(x);
    disks.add(y);
    assertThat(placer.admitSize(x, a, 5 * GI, 2 * GI)).isEmpty();
    assertThat(placer.admitSize(y, a, 5 * GI, 2 * GI))
        .as("x's admitted 3Gi counts before the cache shows it")
        .hasValueSatisfying(r -> assertThat(r.reason()).isEqualTo(Reasons.INSUFFICIENT_STORAGE));
  }

  @Test
  void aGrowIsHeldToTheNamespacesCeilingButNotToCordonOrAllowedNamespaces() {
    Dom0Node a =
        withSpec(
            node("a", 100 * GI, 2 * GI), new Dom0NodeSpec(true, 1.0, List.of("elsewhere"), "4Gi"));
    nodes.add(a);
    VirtualDisk d = pinned("ns", "d", "a", "4Gi", null);
    setBuilt(d, "a", 2 * GI, NOW.minusSeconds(60));
    disks.add(d);
    assertThat(placer.admitSize(d, a, 4 * GI, 2 * GI))
        .as("a cordon or a namespace rule bounds new placements only")
        .isEmpty();
    var over = placer.admitSize(d, a, 5 * GI, 2 * GI);
    assertThat(over)
        .hasValueSatisfying(
            r -> {
              assertThat(r.reason()).isEqualTo(Reasons.QUOTA_EXCEEDED);
              assertThat(r.message())
                  .contains(
                      "would total 5Gi", "spec.maxBytesPerNamespace 4Gi", "stays usable at 2Gi");
            });
  }

  @Test
  void aFirstBuildIsHeldToTheRoomWhenSpecSizeGrewAfterPlacement() {
    Dom0Node a = node("a", 10 * GI, 0);
    nodes.add(a);
    VirtualDisk d = pinned("ns", "d", "a", "1Gi", null);
    assertThat(placer.place(d, GI).nodeName()).isEqualTo("a");
    assertThat(placer.admitSize(d, a, GI, 0)).as("the size it was placed with").isEmpty();
    VirtualDisk grown = pinned("ns", "d", "a", "100Gi", null);
    grown.getMetadata().setUid(d.getMetadata().getUid());
    assertThat(placer.admitSize(grown, a, 100 * GI, 0))
        .hasValueSatisfying(
            r -> {
              assertThat(r.reason()).isEqualTo(Reasons.INSUFFICIENT_STORAGE);
              assertThat(r.message())
                  .contains(
                      "building the image at spec.size 100Gi is refused",
                      "recreate the VirtualDisk smaller");
            });
  }

  @Test
  void hugeSizesSaturateInsteadOfWrappingANodeToEmpty() {
    nodes.add(node("a", 10 * GI, 3 * GI));
    for (String name :
        List.of("x", "y", "z")) { // grows to 4Ei each, not decided yet: 12Ei would wrap a long
      VirtualDisk d = pinned("ns", name, "a", "4Ei", null);
      setBuilt(d, "a", GI, NOW.minusSeconds(60));
      disks.add(d);
    }
    assertThat(placer.place(disk("d", "1Gi"), GI).reason()).isEqualTo(Reasons.INSUFFICIENT_STORAGE);
  }

  private static void setBuilt(VirtualDisk d, String node, long capacity, Instant provisionedAt) {
    d.setStatus(
        new VirtualDiskStatus(
            VirtualDiskStatus.Phase.Ready,
            1L,
            node,
            "/x",
            capacity,
            1L,
            "1B",
            null,
            null,
            null,
            null,
            null,
            List.of(
                new ConditionBuilder()
                    .withType("Provisioned")
                    .withStatus("True")
                    .withReason("Provisioned")
                    .withLastTransitionTime(provisionedAt.toString())
                    .build())));
  }

  private static void markGrowRefused(VirtualDisk d, String reason) {
    VirtualDiskStatus s = d.getStatus();
    List<Condition> c = new ArrayList<>(s.conditions());
    c.add(
        new ConditionBuilder()
            .withType(Conditions.RESIZED)
            .withStatus("False")
            .withReason(reason)
            .withLastTransitionTime(NOW.toString())
            .build());
    d.setStatus(
        new VirtualDiskStatus(
            s.phase(),
            s.observedGeneration(),
            s.nodeName(),
            s.path(),
            s.capacityBytes(),
            s.allocatedBytes(),
            s.allocated(),
            s.filesystemUUID(),
            s.filesystem(),
            s.progress(),
            s.xen(),
            s.loopDevices(),
            c));
  }

  private static void setProvisionedAt(VirtualDisk d, Instant at) {
    d.setStatus(
        new VirtualDiskStatus(
            VirtualDiskStatus.Phase.Ready,
            1L,
            "a",
            "/x",
            7 * GI,
            1L,
            "1B",
            null,
            null,
            null,
            null,
            null,
            List.of(
                new ConditionBuilder()
                    .withType("Provisioned")
                    .withStatus("True")
                    .withReason("Provisioned")
                    .withLastTransitionTime(at.toString())
                    .build())));
  }
}
