package io.xenvbd.operator;

import static io.xenvbd.operator.Fixtures.GI;
import static org.assertj.core.api.Assertions.assertThat;

import io.xenvbd.api.Dom0Node;
import io.xenvbd.api.Reasons;
import io.xenvbd.api.VirtualDisk;
import java.time.Clock;
import java.time.Instant;
import java.time.ZoneOffset;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import org.junit.jupiter.api.Test;

/**
 * What a node has committed besides the disk being decided, from statuses the operator itself
 * wrote.
 */
class LedgerTest {
  static final Instant HEARTBEAT = Instant.parse("2026-01-01T12:00:00Z");

  final List<Dom0Node> nodes =
      new ArrayList<>(List.of(Fixtures.node("a", 100 * GI, 0, 8, 1, false, HEARTBEAT, 10)));
  final List<VirtualDisk> disks = new ArrayList<>();

  static VirtualDisk disk(String ns, String name, String size) {
    VirtualDisk d = Fixtures.disk(ns, name, size);
    d.getMetadata().setUid("uid-" + name);
    return d;
  }

  /** Gives the disk, on node a, the status each outcome leaves, written at {@code at}. */
  static VirtualDisk status(VirtualDisk d, Instant at, Outcome... steps) {
    StatusBuilder statuses = new StatusBuilder(Clock.fixed(at, ZoneOffset.UTC));
    Dom0Node a = Fixtures.node("a", 100 * GI, 0, 8, 1, false, at, 10);
    for (Outcome o : steps) d.setStatus(statuses.build(d, "a", a, o));
    return d;
  }

  static Outcome ready(long capacity) {
    return new Outcome.Done(StatusBuilderTest.ready(capacity));
  }

  static Outcome building() {
    return new Outcome.Working(StatusBuilderTest.building("Format", 40));
  }

  static Outcome growRefused(long capacity, String reason) {
    return new Outcome.GrowRefused(StatusBuilderTest.ready(capacity), reason, "refused");
  }

  Ledger ledger(String self, Map<String, Ledger.Claim> claims) {
    return Ledger.of(ClusterView.of(nodes, disks), self, claims, Map.of());
  }

  @Test
  void aPlacedDiskHoldsItsSpecSizeOrItsImageWhicheverIsLargerUnlessItsSizeWasRefused() {
    Instant t = HEARTBEAT;
    assertThat(Ledger.committedBytes(status(disk("ns", "d", "2Gi"), t, building()), null))
        .as("building")
        .isEqualTo(2 * GI);
    assertThat(Ledger.committedBytes(status(disk("ns", "d", "2Gi"), t, ready(GI)), null))
        .as("grow pending")
        .isEqualTo(2 * GI);
    assertThat(Ledger.committedBytes(status(disk("ns", "d", "1Gi"), t, ready(2 * GI)), null))
        .as("spec below the image")
        .isEqualTo(2 * GI);
    assertThat(
            Ledger.committedBytes(
                status(
                    disk("ns", "d", "10Gi"),
                    t,
                    ready(GI),
                    growRefused(GI, Reasons.INSUFFICIENT_STORAGE)),
                null))
        .as("grow refused: the image's size")
        .isEqualTo(GI);
    assertThat(
            Ledger.committedBytes(
                status(
                    disk("ns", "d", "10Gi"),
                    t,
                    new Outcome.Unschedulable(Reasons.QUOTA_EXCEEDED, "refused")),
                null))
        .as("first build refused: nothing")
        .isZero();
    assertThat(
            Ledger.committedBytes(
                status(
                    disk("ns", "d", "10Gi"),
                    t,
                    ready(GI),
                    growRefused(GI, Reasons.INSUFFICIENT_STORAGE)),
                5 * GI))
        .as("admitted by this operator before the cache shows it")
        .isEqualTo(5 * GI);
    assertThat(Ledger.committedBytes(status(disk("ns", "d", "lots"), t, building()), null))
        .as("unreadable size")
        .isZero();
  }

  @Test
  void onlyARefusalForRoomMarksASizeAsRefused() {
    Instant t = HEARTBEAT;
    assertThat(
            Ledger.sizeRefused(
                status(
                        disk("ns", "d", "9Gi"),
                        t,
                        ready(GI),
                        growRefused(GI, Reasons.INSUFFICIENT_STORAGE))
                    .getStatus()))
        .isTrue();
    assertThat(
            Ledger.sizeRefused(
                status(
                        disk("ns", "d", "9Gi"),
                        t,
                        ready(GI),
                        growRefused(GI, Reasons.QUOTA_EXCEEDED))
                    .getStatus()))
        .isTrue();
    assertThat(
            Ledger.sizeRefused(
                status(
                        disk("ns", "d", "9Gi"),
                        t,
                        new Outcome.Unschedulable(Reasons.INSUFFICIENT_STORAGE, "refused"))
                    .getStatus()))
        .as("first build")
        .isTrue();
    assertThat(
            Ledger.sizeRefused(
                status(
                        disk("ns", "d", "9Gi"),
                        t,
                        ready(GI),
                        new Outcome.Working(StatusBuilderTest.resizing(9 * GI)))
                    .getStatus()))
        .as("growing")
        .isFalse();
    assertThat(
            Ledger.sizeRefused(
                status(
                        disk("ns", "d", "9Gi"),
                        t,
                        ready(GI),
                        growRefused(GI, Reasons.INSUFFICIENT_STORAGE),
                        ready(9 * GI))
                    .getStatus()))
        .as("grown since")
        .isFalse();
    assertThat(
            Ledger.sizeRefused(
                status(
                        disk("ns", "d", "9Gi"),
                        t,
                        new Outcome.Unreachable(Reasons.NODE_UNREACHABLE, "gone"))
                    .getStatus()))
        .isFalse();
  }

  @Test
  void anImageCountsInTheHeartbeatOnlyWhenItWasProvisionedMoreThanASecondBeforeIt() {
    VirtualDisk building = status(disk("ns", "d", "3Gi"), HEARTBEAT.minusSeconds(60), building());
    assertThat(Ledger.notYetPromised(building, HEARTBEAT, 3 * GI)).isEqualTo(3 * GI);
    VirtualDisk atTheEdge = status(disk("ns", "d", "3Gi"), HEARTBEAT.minusSeconds(1), ready(GI));
    assertThat(Ledger.notYetPromised(atTheEdge, HEARTBEAT, 3 * GI))
        .as("within the slack")
        .isEqualTo(3 * GI);
    VirtualDisk before = status(disk("ns", "d", "3Gi"), HEARTBEAT.minusSeconds(2), ready(GI));
    assertThat(Ledger.notYetPromised(before, HEARTBEAT, 3 * GI))
        .as("only the growth")
        .isEqualTo(2 * GI);
    assertThat(Ledger.notYetPromised(before, HEARTBEAT, GI)).isZero();
    VirtualDisk none = disk("ns", "d", "3Gi");
    assertThat(Ledger.notYetPromised(none, HEARTBEAT, 3 * GI)).isEqualTo(3 * GI);
  }

  @Test
  void aGrowThatFinishedAfterTheLastHeartbeatKeepsItsRoomUntilTheNextOne() {
    // the heartbeat's promisedBytes may still show the image at 1Gi: the grow to 8Gi finished after
    // it
    nodes.set(0, Fixtures.node("a", 10 * GI, GI, 8, 1, false, HEARTBEAT, 10));
    VirtualDisk grown = disk("ns", "grown", "8Gi");
    status(grown, HEARTBEAT.minusSeconds(60), ready(GI));
    status(
        grown, HEARTBEAT.minusSeconds(5), new Outcome.Working(StatusBuilderTest.resizing(8 * GI)));
    status(grown, HEARTBEAT.plusSeconds(1), ready(8 * GI));
    disks.add(grown);
    Ledger l = ledger("uid-new", Map.of());
    assertThat(NodeFit.left(nodes.get(0), l))
        .as("never more than the 2Gi really left")
        .isLessThanOrEqualTo(2 * GI);
    assertThat(NodeFit.room(nodes.get(0), new NodeFit.Need("ns", 4 * GI, 4 * GI, true), l))
        .isPresent();
  }

  @Test
  void sumsLeaveOutTheDiskDecidedAndCountClaimsUntilTheCacheShowsThem() {
    disks.add(status(disk("ns", "built", "4Gi"), HEARTBEAT.minusSeconds(60), ready(4 * GI)));
    disks.add(status(disk("ns", "fresh", "2Gi"), HEARTBEAT.plusSeconds(1), ready(2 * GI)));
    disks.add(status(disk("other", "theirs", "1Gi"), HEARTBEAT, building()));
    disks.add(status(disk("ns", "self", "8Gi"), HEARTBEAT, building()));
    disks.add(disk("ns", "unplaced", "16Gi"));
    Ledger l =
        ledger(
            "uid-self",
            Map.of(
                "uid-claimed", new Ledger.Claim("a", "ns", 32 * GI),
                "uid-fresh", new Ledger.Claim("a", "ns", 64 * GI),
                "uid-self", new Ledger.Claim("a", "ns", 128 * GI)));
    assertThat(l.pending("a"))
        .as("fresh 2 + theirs 1 + claimed 32; built is in the heartbeat")
        .isEqualTo(35 * GI);
    assertThat(l.namespaceBytes("a", "ns")).as("built 4 + fresh 2 + claimed 32").isEqualTo(38 * GI);
    assertThat(l.namespaceBytes("a", "other")).isEqualTo(GI);
    assertThat(l.pending("b")).isZero();
  }

  @Test
  void disksOnANodeWithoutADom0NodeCountForTheNamespaceButNotAsPending() {
    nodes.clear();
    disks.add(status(disk("ns", "d", "4Gi"), HEARTBEAT, building()));
    Ledger l = ledger("uid-self", Map.of());
    assertThat(l.pending("a")).isZero();
    assertThat(l.namespaceBytes("a", "ns")).isEqualTo(4 * GI);
  }

  @Test
  void sumsSaturateAndUnreadableSizesAreMinusOne() {
    assertThat(Ledger.plus(1, 2)).isEqualTo(3);
    assertThat(Ledger.plus(Long.MAX_VALUE, 1)).isEqualTo(Long.MAX_VALUE);
    assertThat(Ledger.plus(Long.MIN_VALUE, -1)).isEqualTo(Long.MIN_VALUE);
    assertThat(Ledger.bytes("1Gi")).isEqualTo(GI);
    assertThat(Ledger.bytes("lots")).isEqualTo(-1);
    assertThat(Ledger.bytes(null)).isEqualTo(-1);
  }
}
