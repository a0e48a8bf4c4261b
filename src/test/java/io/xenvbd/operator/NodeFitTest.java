package io.xenvbd.operator;

import static io.xenvbd.operator.Fixtures.GI;
import static org.assertj.core.api.Assertions.assertThat;

import io.xenvbd.api.Dom0Node;
import io.xenvbd.api.Dom0NodeSpec;
import io.xenvbd.api.Reasons;
import java.time.Clock;
import java.time.Instant;
import java.time.ZoneOffset;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import org.junit.jupiter.api.Test;

/** The rules a node must meet to take a disk, each refusal's reason, and the words a user reads. */
class NodeFitTest {
  static final Instant NOW = Instant.parse("2026-01-01T12:00:00Z");
  static final Clock CLOCK = Clock.fixed(NOW, ZoneOffset.UTC);
  static final NodeFit.Need ONE_GI = new NodeFit.Need("ns", GI, GI, true);
  static final Ledger EMPTY =
      Ledger.of(ClusterView.of(List.of(), List.of()), "self", Map.of(), Map.of());

  static Dom0Node node(
      long capacity, long promised, int loopsInUse, boolean cordoned, Instant heartbeat) {
    return Fixtures.node("a", capacity, promised, 8, loopsInUse, cordoned, heartbeat, 10);
  }

  static Dom0Node healthy() {
    return node(10 * GI, 0, 1, false, NOW);
  }

  static Dom0Node withSpec(Dom0Node n, Dom0NodeSpec spec) {
    n.setSpec(spec);
    return n;
  }

  static Optional<String> reason(Optional<NodeFit.Refusal> r) {
    return r.map(NodeFit.Refusal::reason);
  }

  @Test
  void aNewPlacementIsRefusedForHealthThenCordonThenNamespaceThenLoopDevices() {
    Instant stale = NOW.minusSeconds(31);
    assertThat(reason(NodeFit.schedulable(healthy(), ONE_GI, CLOCK))).isEmpty();
    assertThat(reason(NodeFit.schedulable(node(10 * GI, 0, 8, true, stale), ONE_GI, CLOCK)))
        .contains(Reasons.NODE_NOT_READY);
    Dom0Node cordonedElsewhere =
        withSpec(
            node(10 * GI, 0, 8, true, NOW), new Dom0NodeSpec(true, 1.0, List.of("other"), null));
    assertThat(reason(NodeFit.schedulable(cordonedElsewhere, ONE_GI, CLOCK)))
        .contains(Reasons.NODE_CORDONED);
    Dom0Node elsewhereNoLoops =
        withSpec(
            node(10 * GI, 0, 8, false, NOW), new Dom0NodeSpec(false, 1.0, List.of("other"), null));
    assertThat(reason(NodeFit.schedulable(elsewhereNoLoops, ONE_GI, CLOCK)))
        .contains(Reasons.NAMESPACE_NOT_ALLOWED);
    assertThat(reason(NodeFit.schedulable(node(10 * GI, 0, 8, false, NOW), ONE_GI, CLOCK)))
        .contains(Reasons.LOOP_DEVICES_EXHAUSTED);
    assertThat(
            reason(
                NodeFit.schedulable(
                    node(10 * GI, 0, 8, false, NOW), new NodeFit.Need("ns", GI, GI, false), CLOCK)))
        .as("a build that never mounts needs no loop device")
        .isEmpty();
  }

  @Test
  void eachRefusalHasAShortProblemAndADetailThatNamesNoOtherTenant() {
    NodeFit.Refusal cordoned =
        NodeFit.schedulable(node(10 * GI, 0, 1, true, NOW), ONE_GI, CLOCK).orElseThrow();
    assertThat(cordoned)
        .isEqualTo(
            new NodeFit.Refusal(
                Reasons.NODE_CORDONED,
                "cordoned (spec.unschedulable)",
                "Dom0Node a is cordoned (spec.unschedulable: true)"));
    NodeFit.Refusal namespace =
        NodeFit.schedulable(
                withSpec(
                    healthy(), new Dom0NodeSpec(false, 1.0, List.of("tenant-x", "tenant-y"), null)),
                ONE_GI,
                CLOCK)
            .orElseThrow();
    assertThat(namespace)
        .isEqualTo(
            new NodeFit.Refusal(
                Reasons.NAMESPACE_NOT_ALLOWED,
                "namespace ns not allowed (spec.allowedNamespaces)",
                "Dom0Node a does not take disks from namespace ns (spec.allowedNamespaces)"));
    NodeFit.Refusal loops =
        NodeFit.schedulable(node(10 * GI, 0, 8, false, NOW), ONE_GI, CLOCK).orElseThrow();
    assertThat(loops)
        .isEqualTo(
            new NodeFit.Refusal(
                Reasons.LOOP_DEVICES_EXHAUSTED,
                "no free loop device (8/8 in use)",
                "Dom0Node a has no free loop device (8/8 in use)"));
  }

  @Test
  void aDiskFitsWhenWhatIsLeftEqualsWhatItNeedsAndNotAByteLess() {
    Dom0Node n = node(10 * GI, 9 * GI, 1, false, NOW);
    assertThat(NodeFit.room(n, new NodeFit.Need("ns", GI, GI, true), EMPTY)).isEmpty();
    NodeFit.Refusal r =
        NodeFit.room(n, new NodeFit.Need("ns", GI + 1, GI + 1, true), EMPTY).orElseThrow();
    assertThat(r.reason()).isEqualTo(Reasons.INSUFFICIENT_STORAGE);
    assertThat(r.problem()).isEqualTo("1Gi left to promise");
    assertThat(r.detail())
        .isEqualTo(
            "Dom0Node a has 1Gi left to promise (overcommitRatio 1 x capacity 10Gi - 9Gi promised)"
                + " and this needs 1Gi");
  }

  @Test
  void overcommitRaisesTheBoundAndAnOverfullNodeShowsNothingLeft() {
    Dom0Node over = withSpec(node(10 * GI, 12 * GI, 1, false, NOW), new Dom0NodeSpec(false, 1.5));
    assertThat(NodeFit.left(over, EMPTY)).isEqualTo(3 * GI);
    assertThat(NodeFit.room(over, new NodeFit.Need("ns", 3 * GI, 3 * GI, true), EMPTY)).isEmpty();
    Dom0Node full = node(10 * GI, 11 * GI, 1, false, NOW);
    assertThat(NodeFit.left(full, EMPTY)).isEqualTo(-GI);
    assertThat(NodeFit.room(full, ONE_GI, EMPTY).orElseThrow().problem())
        .isEqualTo("0B left to promise");
  }

  @Test
  void aNamespaceMayFillItsCeilingExactlyButNotPassIt() {
    Dom0Node n = withSpec(healthy(), new Dom0NodeSpec(false, 1.0, null, "2Gi"));
    Ledger holdsOne =
        Ledger.of(
            ClusterView.of(List.of(n), List.of()),
            "self",
            Map.of("uid-other", new Ledger.Claim("a", "ns", GI)),
            Map.of());
    assertThat(NodeFit.room(n, ONE_GI, holdsOne)).isEmpty();
    NodeFit.Refusal r =
        NodeFit.room(n, new NodeFit.Need("ns", GI + 1, GI + 1, true), holdsOne).orElseThrow();
    assertThat(r.reason()).isEqualTo(Reasons.QUOTA_EXCEEDED);
    assertThat(r.detail())
        .isEqualTo(
            "the disks of namespace ns on Dom0Node a would total 2Gi, over its"
                + " spec.maxBytesPerNamespace 2Gi");
    assertThat(NodeFit.room(n, new NodeFit.Need("other", 2 * GI, 2 * GI, true), holdsOne))
        .as("per namespace")
        .isEmpty();
  }

  @Test
  void anUnreadableCeilingPromisesNothingMoreAndSaysWhoMustFixIt() {
    Dom0Node n = withSpec(healthy(), new Dom0NodeSpec(false, 1.0, null, "lots"));
    NodeFit.Refusal r = NodeFit.room(n, ONE_GI, EMPTY).orElseThrow();
    assertThat(r.reason()).isEqualTo(Reasons.QUOTA_EXCEEDED);
    assertThat(r.detail())
        .isEqualTo(
            "Dom0Node a has a spec.maxBytesPerNamespace 'lots' that is not a quantity, so"
                + " nothing more is promised there until the cluster admin fixes it");
  }

  @Test
  void everyRefusalOfANamedNodeSaysWhatToChangeAndThatNothingIsBuilt() {
    String elsewhere = "recreate it elsewhere";
    String tail = "; the disk stays Pending until then and nothing is built";
    assertThat(
            NodeFit.explain(
                new NodeFit.Refusal(Reasons.NODE_NOT_READY, "not Ready", "the agent is gone"),
                "a",
                elsewhere))
        .isEqualTo(
            "the agent is gone; the disk is placed there once its agent is Ready again, or "
                + elsewhere
                + tail);
    assertThat(
            NodeFit.explain(
                new NodeFit.Refusal(Reasons.NODE_CORDONED, "p", "Dom0Node a is cordoned"),
                "a",
                elsewhere))
        .isEqualTo(
            "Dom0Node a is cordoned: ask the cluster admin to uncordon it (kubectl patch dom0node a --type merge"
                + " -p '{\"spec\":{\"unschedulable\":false}}') or "
                + elsewhere
                + tail);
    for (String reason :
        List.of(
            Reasons.NAMESPACE_NOT_ALLOWED,
            Reasons.LOOP_DEVICES_EXHAUSTED,
            Reasons.INSUFFICIENT_STORAGE,
            Reasons.QUOTA_EXCEEDED)) {
      assertThat(NodeFit.explain(new NodeFit.Refusal(reason, "p", "detail"), "a", elsewhere))
          .startsWith("detail: ")
          .endsWith(", or " + elsewhere + tail);
    }
    assertThat(
            NodeFit.explain(
                new NodeFit.Refusal(Reasons.LOOP_DEVICES_EXHAUSTED, "p", "d"), "a", elsewhere))
        .contains("losetup -d", "max_loop", "populate.method Offline");
  }

  @Test
  void aRefusedGrowSaysTheImageStaysUsableAndTheGrowResumesByItself() {
    NodeFit.Refusal quota = new NodeFit.Refusal(Reasons.QUOTA_EXCEEDED, "p", "over the ceiling");
    assertThat(NodeFit.explainGrow(quota, "a", "1Gi", "4Gi"))
        .isEqualTo(
            "growing the image from 1Gi to 4Gi is refused:"
                + " over the ceiling; the image is untouched and stays usable at 1Gi, and the grow goes ahead by itself once you"
                + " delete disks of the namespace on a or ask the cluster admin to raise spec.maxBytesPerNamespace");
    NodeFit.Refusal room = new NodeFit.Refusal(Reasons.INSUFFICIENT_STORAGE, "p", "no room");
    assertThat(NodeFit.explainBuild(room, "a", "4Gi"))
        .isEqualTo(
            "building the image at spec.size 4Gi is refused: no room;"
                + " nothing is built until you free space on a (delete disks there) or ask the cluster admin to raise its"
                + " spec.overcommitRatio, or recreate the VirtualDisk smaller");
  }
}
