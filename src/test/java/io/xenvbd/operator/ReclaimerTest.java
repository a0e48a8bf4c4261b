package io.xenvbd.operator;

import static io.xenvbd.operator.Fixtures.GI;
import static org.assertj.core.api.Assertions.assertThat;

import io.xenvbd.api.Dom0Node;
import io.xenvbd.api.Dom0NodeStatus;
import io.xenvbd.api.Reasons;
import io.xenvbd.api.VirtualDisk;
import io.xenvbd.api.VirtualDiskSpec.ReclaimPolicy;
import io.xenvbd.protocol.AgentClient;
import io.xenvbd.protocol.AgentException;
import io.xenvbd.protocol.DiskState;
import io.xenvbd.protocol.ErrorCodes;
import io.xenvbd.protocol.NodeInfo;
import io.xenvbd.protocol.PutDiskRequest;
import java.time.Clock;
import java.time.Instant;
import java.time.ZoneOffset;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import org.junit.jupiter.api.Test;

/**
 * What deleting a VirtualDisk does to its image, for Retain and Delete, against a {@link FakeNode}:
 * whether the finalizer is released, the event the user reads, and whether the file is still there.
 */
class ReclaimerTest {
  static final Instant NOW = Instant.parse("2026-01-01T12:00:00Z");
  static final Clock CLOCK = Clock.fixed(NOW, ZoneOffset.UTC);
  static final String IMAGE = "/var/lib/xen/images-a/ns/d.img";
  static final String FORCE =
      "if the node does not come back, give the image up with kubectl annotate virtualdisk d -n"
          + " ns xenvbd.io/abandon-image=true (deletion then finishes and the image is left on the"
          + " node, untouched)";

  final List<Dom0Node> nodes =
      new ArrayList<>(List.of(Fixtures.node("a", 100 * GI, 0, 8, 1, false, NOW, 10)));
  final FakeNode fake = new FakeNode("a");
  AgentClient agent = fake;
  final Reclaimer reclaimer =
      new Reclaimer(
          ClusterView.of(nodes, List.of()), (node, endpoint) -> agent, new OperatorMetrics());

  static VirtualDisk disk(ReclaimPolicy policy) {
    VirtualDisk d = Fixtures.disk("ns", "d", Fixtures.spec(null, "1Gi", null, null, policy));
    d.getMetadata().setUid("uid-d");
    return d;
  }

  /** The disk as the operator left it once its image was built on node a. */
  VirtualDisk built(ReclaimPolicy policy) {
    VirtualDisk d = disk(policy);
    fake.putDisk("ns", "d", new PutDiskRequest("uid-d", AgentRequests.toWire(d.getSpec(), null)));
    DiskState s = fake.getDisk("ns", "d").orElseThrow();
    while (s.phase() != DiskState.Phase.Ready) s = fake.getDisk("ns", "d").orElseThrow();
    d.setStatus(new StatusBuilder(CLOCK).build(d, "a", nodes.get(0), new Outcome.Done(s)));
    assertThat(d.getStatus().path()).isEqualTo(IMAGE);
    return d;
  }

  /** Placed on node a, its status written, and deleted before any agent was asked to build it. */
  VirtualDisk placedOnly() {
    VirtualDisk d = disk(ReclaimPolicy.Delete);
    d.setStatus(
        new StatusBuilder(CLOCK)
            .build(d, "a", nodes.get(0), new Outcome.Placed("a", "placed on dom0 node a")));
    return d;
  }

  static Reclaimer.Result done(String type, String reason, String message) {
    return new Reclaimer.Result(type, reason, message, null);
  }

  static Reclaimer.Result blocked(String cause, String message) {
    return new Reclaimer.Result(
        EventRecorder.WARNING,
        Reasons.DELETION_BLOCKED,
        message,
        new Outcome.Blocked(cause, message));
  }

  static AgentClient deleteFailsWith(AgentException error) {
    return new AgentClient() {
      @Override
      public NodeInfo node() {
        throw error;
      }

      @Override
      public DiskState putDisk(String ns, String name, PutDiskRequest request) {
        throw error;
      }

      @Override
      public Optional<DiskState> getDisk(String ns, String name) {
        throw error;
      }

      @Override
      public void deleteDisk(String ns, String name, String uid) {
        throw error;
      }

      @Override
      public void releaseDisk(String ns, String name, String uid) {
        throw error;
      }
    };
  }

  @Test
  void aDiskNeverPlacedGoesAtOnceWithNoEvent() {
    agent = deleteFailsWith(new AgentException(ErrorCodes.INTERNAL, 500, "must not be called"));
    VirtualDisk noStatus = disk(ReclaimPolicy.Delete);
    assertThat(reclaimer.reclaim(noStatus)).isEqualTo(done(null, null, null));
    assertThat(reclaimer.reclaim(noStatus).done()).isTrue();

    VirtualDisk unschedulable = disk(ReclaimPolicy.Delete);
    unschedulable.setStatus(
        new StatusBuilder(CLOCK)
            .build(
                unschedulable,
                null,
                null,
                new Outcome.Unschedulable(Reasons.NO_NODE_FITS, "no dom0 node fits 1Gi now")));
    assertThat(reclaimer.reclaim(unschedulable)).isEqualTo(done(null, null, null));
  }

  @Test
  void deleteRemovesTheImageAndSaysWhere() {
    VirtualDisk d = built(ReclaimPolicy.Delete);
    assertThat(reclaimer.reclaim(d))
        .isEqualTo(
            done(
                EventRecorder.NORMAL,
                Reasons.DELETED,
                "image " + IMAGE + " deleted from dom0 node a"));
    assertThat(fake.hasImage("ns", "d")).isFalse();
    assertThat(reclaimer.reclaim(d).done())
        .as("repeated: the agent's DELETE is idempotent")
        .isTrue();
  }

  @Test
  void deleteOfADiskPlacedButNotBuiltAsksTheAgentAnyway() {
    assertThat(reclaimer.reclaim(placedOnly()))
        .isEqualTo(
            done(EventRecorder.NORMAL, Reasons.DELETED, "its image deleted from dom0 node a"));
  }

  @Test
  void retainKeepsTheImageAndHasTheAgentMarkItReleasedForAdoption() {
    VirtualDisk d = built(ReclaimPolicy.Retain);
    assertThat(reclaimer.reclaim(d))
        .isEqualTo(
            done(
                EventRecorder.NORMAL,
                Reasons.RETAINED,
                "reclaimPolicy is Retain: image "
                    + IMAGE
                    + " stays on dom0 node a, released: its Dom0Node lists it in status.released, and a new VirtualDisk in"
                    + " namespace ns takes it back with spec.populate.adopt.name d (delete the file by hand when no longer needed)"));
    assertThat(fake.hasImage("ns", "d")).isTrue();
    assertThat(fake.released).containsExactly("ns/d");
  }

  @Test
  void aRetainedImageTheAgentCannotReleaseBlocksTheDeletionWithTheAgentsReason() {
    VirtualDisk d = built(ReclaimPolicy.Retain);
    agent = deleteFailsWith(new AgentException(ErrorCodes.INTERNAL, 500, "disk full"));
    assertThat(reclaimer.reclaim(d)).isEqualTo(blocked(ErrorCodes.INTERNAL, "disk full"));
    assertThat(fake.hasImage("ns", "d")).isTrue();
  }

  @Test
  void retainWithItsNodeGoneWaitsForTheNodeWithoutAskingAnyAgent() {
    VirtualDisk d = built(ReclaimPolicy.Retain);
    agent = deleteFailsWith(new AgentException(ErrorCodes.INTERNAL, 500, "must not be called"));
    nodes.clear();
    assertThat(reclaimer.reclaim(d))
        .isEqualTo(
            blocked(
                Reasons.NODE_DELETED,
                "Dom0Node a no longer exists, so no agent can release image "
                    + IMAGE
                    + "; deletion resumes by itself when the node's agent registers it again; "
                    + FORCE));
    assertThat(fake.hasImage("ns", "d")).isTrue();
  }

  @Test
  void aDom0NodeThatNoLongerExistsBlocksDeletionSayingHowToGiveTheImageUp() {
    VirtualDisk d = built(ReclaimPolicy.Delete);
    nodes.clear();
    assertThat(reclaimer.reclaim(d))
        .isEqualTo(
            blocked(
                Reasons.NODE_DELETED,
                "Dom0Node a no longer exists, so no agent can delete image "
                    + IMAGE
                    + "; deletion resumes by itself when the node's agent registers it again; "
                    + FORCE));
    assertThat(fake.hasImage("ns", "d")).as("nothing deleted").isTrue();
  }

  @Test
  void anAbandonedImageIsLeftUntouchedWhetherItsNodeIsGoneOrAnswers() {
    VirtualDisk d = built(ReclaimPolicy.Delete);
    d.getMetadata().setAnnotations(Map.of(NodeLoss.ABANDON_ANNOTATION, "true"));
    String left =
        "image "
            + IMAGE
            + " was given up (xenvbd.io/abandon-image) and left on dom0 node a untouched (no agent"
            + " was asked; the file keeps the deleted disk as its owner): delete it there by hand"
            + " when no longer needed";
    assertThat(reclaimer.reclaim(d))
        .isEqualTo(done(EventRecorder.WARNING, Reasons.IMAGE_ABANDONED, left));
    assertThat(fake.hasImage("ns", "d")).as("an answering agent is not asked either").isTrue();
    nodes.clear();
    assertThat(reclaimer.reclaim(d))
        .isEqualTo(done(EventRecorder.WARNING, Reasons.IMAGE_ABANDONED, left));
    assertThat(fake.hasImage("ns", "d")).isTrue();
    d.getMetadata().setAnnotations(Map.of(NodeLoss.ABANDON_ANNOTATION, "false"));
    assertThat(reclaimer.reclaim(d).done()).as("only \"true\" gives it up").isFalse();
  }

  @Test
  void aNodeWithNoAgentEndpointBlocksDeletion() {
    VirtualDisk d = built(ReclaimPolicy.Delete);
    Dom0NodeStatus s = nodes.get(0).getStatus();
    nodes
        .get(0)
        .setStatus(
            new Dom0NodeStatus(
                new Dom0NodeStatus.Agent(null, "test", NOW.toString(), 10, null),
                s.loopDevices(),
                s.storage(),
                s.disks(),
                s.orphans(),
                s.conditions()));
    assertThat(reclaimer.reclaim(d))
        .isEqualTo(blocked(Reasons.NODE_UNREACHABLE, "the agent of a has no endpoint registered"));
    nodes.get(0).setStatus(null);
    assertThat(reclaimer.reclaim(d).done()).isFalse();
    assertThat(fake.hasImage("ns", "d")).isTrue();
  }

  @Test
  void anUnreachableAgentBlocksDeletionUntilItIsBack() {
    VirtualDisk d = built(ReclaimPolicy.Delete);
    fake.stop();
    assertThat(reclaimer.reclaim(d))
        .isEqualTo(
            blocked(
                Reasons.NODE_UNREACHABLE,
                "dom0 node a: agent at fake://a is unreachable: Connection refused; deletion"
                    + " resumes when the agent is back; "
                    + FORCE));
    fake.resume();
    assertThat(reclaimer.reclaim(d).done()).isTrue();
    assertThat(fake.hasImage("ns", "d")).isFalse();
  }

  @Test
  void anImageInUseBlocksDeletionSayingHowToReleaseItAndDeletionCompletesOnceReleased() {
    VirtualDisk d = built(ReclaimPolicy.Delete);
    fake.setInUse("ns", "d", true);
    assertThat(reclaimer.reclaim(d))
        .isEqualTo(
            blocked(
                Reasons.IMAGE_IN_USE,
                "image "
                    + IMAGE
                    + " is attached to"
                    + " /dev/loop3; detach it (stop the guest, umount, losetup -d) and deletion completes by itself"));
    assertThat(fake.hasImage("ns", "d")).isTrue();
    fake.setInUse("ns", "d", false);
    assertThat(reclaimer.reclaim(d).done()).isTrue();
    assertThat(fake.hasImage("ns", "d")).isFalse();
  }

  @Test
  void anImageOfAnotherVirtualDiskIsLeftUntouchedAndTheDiskIsReleased() {
    VirtualDisk mine = built(ReclaimPolicy.Delete);
    mine.getMetadata()
        .setUid("uid-recreated"); // same name, a newer VirtualDisk; the image is the old one's
    assertThat(reclaimer.reclaim(mine))
        .isEqualTo(
            done(
                EventRecorder.NORMAL,
                Reasons.DELETED,
                "the image on a belongs to another VirtualDisk and was left untouched: image ns/d belongs to uid uid-d"));
    assertThat(fake.hasImage("ns", "d")).isTrue();
  }

  @Test
  void anyOtherAgentErrorBlocksDeletionWithTheAgentsCode() {
    VirtualDisk d = built(ReclaimPolicy.Delete);
    agent =
        deleteFailsWith(
            new AgentException(
                ErrorCodes.INTERNAL, 500, "cannot unlink the image: read-only filesystem"));
    assertThat(reclaimer.reclaim(d))
        .isEqualTo(blocked(ErrorCodes.INTERNAL, "cannot unlink the image: read-only filesystem"));
  }
}
