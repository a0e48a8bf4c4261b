package io.xenvbd.operator;

import io.fabric8.kubernetes.api.model.Condition;
import io.xenvbd.api.Conditions;
import io.xenvbd.api.Dom0Node;
import io.xenvbd.api.Reasons;
import io.xenvbd.api.VirtualDisk;
import io.xenvbd.api.VirtualDiskStatus;
import io.xenvbd.api.VirtualDiskStatus.Move;
import io.xenvbd.api.VirtualDiskStatus.MoveStage;
import io.xenvbd.api.VirtualDiskStatus.Phase;
import io.xenvbd.protocol.AgentClient;
import io.xenvbd.protocol.AgentClientFactory;
import io.xenvbd.protocol.AgentException;
import io.xenvbd.protocol.AgentUnreachableException;
import io.xenvbd.protocol.DiskSpec;
import io.xenvbd.protocol.DiskState;
import io.xenvbd.protocol.ErrorCodes;
import io.xenvbd.protocol.Protocol;
import io.xenvbd.protocol.PutDiskRequest;
import io.xenvbd.protocol.TransferTicket;
import java.time.Clock;
import java.time.Duration;
import java.time.Instant;
import java.time.temporal.ChronoUnit;
import java.util.List;
import java.util.Optional;
import java.util.function.UnaryOperator;

/**
 * Moves the disks of a draining Dom0Node ({@code spec.drain: true}) to other nodes, data and all,
 * through the one cross-node copy the agents have: the old node's agent issues a ticket for the
 * disk's own image, the new node's agent streams it ({@code spec.populate.moveFrom}, protocol 6),
 * checks its digest and a read-only fsck, and publishes it. The order never loses data:
 *
 * <ol>
 *   <li><b>Copying</b>: status.nodeName stays the old node and the disk stays Ready there; the old
 *       agent refuses to stream an image a loop device, a mount or a process holds, and abandons a
 *       copy whose source changes or comes into use meanwhile. A failure leaves the old image as it
 *       was, and the move is tried again with backoff.
 *   <li><b>Switched</b>: once the new node reports the image Ready at the disk's size, status
 *       (node, path, xl lines) is written for the new node, and only then,
 *   <li>the old image is deleted (the agent refuses while something holds it).
 * </ol>
 *
 * A disk pinned by spec.nodeName is not moved: spec.nodeName is the user's word on where the disk
 * lives, and only the user changes it (by cloning the disk to another node). Where the move is
 * lives in status.move, so an operator restart carries on.
 */
final class Mover {
  /**
   * What the reconcile does: {@code step} (null: drive the disk on its node as usual) for {@code
   * nodeName}, and how the built status is changed.
   */
  record Plan(AgentDriver.Step step, String nodeName, UnaryOperator<VirtualDiskStatus> decorate) {
    static final Plan NONE = new Plan(null, null, UnaryOperator.identity());
  }

  private static final Duration SOON = Duration.ofMillis(10);

  private final ClusterView cluster;
  private final AgentClientFactory agents;
  private final AgentDriver driver;
  private final Placer placer;
  private final Backoffs backoffs;
  private final Clock clock;
  private final Protocol protocol;

  /** Moves whose target's failure was shown, so that the next due retry starts the copy again. */
  private final java.util.Set<String> failuresShown =
      java.util.concurrent.ConcurrentHashMap.newKeySet();

  Mover(
      ClusterView cluster,
      AgentClientFactory agents,
      AgentDriver driver,
      Placer placer,
      Backoffs backoffs,
      Clock clock,
      Protocol protocol) {
    this.cluster = cluster;
    this.agents = agents;
    this.driver = driver;
    this.placer = placer;
    this.backoffs = backoffs;
    this.clock = clock;
    this.protocol = protocol;
  }

  /**
   * Whether a change of {@code node} (a heartbeat, spec.drain set or cleared) may move the move of
   * {@code disk} on: the disk is on a draining node, or moving off or onto {@code node}, or still
   * waits under a Moved=False of an earlier drain.
   */
  static boolean concerns(Dom0Node node, VirtualDisk disk) {
    VirtualDiskStatus st = disk.getStatus();
    if (st == null) return false;
    String name = node.getMetadata().getName();
    if (st.move() != null) return name.equals(st.move().from()) || name.equals(st.move().to());
    if (!name.equals(st.nodeName())) return false;
    return node.getSpec() != null && node.getSpec().draining()
        || Conditions.find(st.conditions(), Conditions.MOVED)
            .filter(c -> Conditions.FALSE.equals(c.getStatus()))
            .isPresent();
  }

  /** The plan for a placed disk on {@code node} (its status.nodeName). */
  Plan plan(VirtualDisk disk, String node, long size) {
    VirtualDiskStatus st = disk.getStatus();
    Move move = st == null ? null : st.move();
    if (move != null && move.stage() == MoveStage.Switched) return deleteOld(disk, move, size);
    boolean draining =
        cluster.node(node).map(n -> n.getSpec() != null && n.getSpec().draining()).orElse(false);
    if (!draining) return move == null ? forgetWaiting(st) : cancel(disk, move, node, size);
    if (pinned(disk)) {
      return new Plan(
          driver.drive(disk, node, size),
          node,
          s ->
              decorated(
                  s,
                  null,
                  null,
                  Conditions.FALSE,
                  Reasons.PINNED,
                  "spec.nodeName pins this disk to node "
                      + node
                      + ", so the drain of "
                      + node
                      + " leaves it there: to move it, clone it to another node"
                      + " (a VirtualDisk with spec.populate.cloneFrom.name "
                      + disk.getMetadata().getName()
                      + " and another spec.nodeName), then delete this one"));
    }
    AgentDriver.Step here = driver.drive(disk, node, size);
    Move under = move;
    if (!(here.outcome() instanceof Outcome.Done done)) {
      return new Plan(
          here,
          node,
          s ->
              decorated(
                  s,
                  under,
                  null,
                  Conditions.FALSE,
                  Reasons.WAITING_FOR_READY,
                  "node "
                      + node
                      + " is draining: the disk moves once it is Ready there (see its Ready"
                      + " condition)"));
    }
    if (move == null) {
      Placer.Placement p = placer.placeMove(disk, size, node);
      if (!p.placed()) {
        String why = "node " + node + " is draining, but the disk cannot move: " + p.message();
        return new Plan(
            here, node, s -> decorated(s, null, null, Conditions.FALSE, p.reason(), why));
      }
      move =
          new Move(
              node,
              p.nodeName(),
              MoveStage.Copying,
              Instant.now(clock).truncatedTo(ChronoUnit.SECONDS).toString());
    }
    return copy(disk, move, done.state(), here, size);
  }

  /** Step 1: start, follow or retry the copy to {@code move.to()}; on success switch over. */
  private Plan copy(
      VirtualDisk disk, Move move, DiskState source, AgentDriver.Step here, long size) {
    String uid = disk.getMetadata().getUid();
    String ns = disk.getMetadata().getNamespace();
    String name = disk.getMetadata().getName();
    String key = "move/" + uid;
    try {
      Dom0Node to = healthyNode(move.to(), "the node it moves to");
      AgentClient target = agents.forNode(move.to(), to.getStatus().agent().endpoint());
      DiskState there = target.getDisk(ns, name).filter(s -> uid.equals(s.uid())).orElse(null);
      if (there != null && there.phase() == DiskState.Phase.Ready && capacity(there) >= size) {
        backoffs.reset(key);
        failuresShown.remove(key);
        return switchOver(move, there);
      }
      if (there != null && there.phase() == DiskState.Phase.Failed) {
        // a failure is shown and waited out (with backoff) once before the copy starts again
        boolean fresh = failuresShown.add(key);
        if (fresh) backoffs.failed(key);
        if (fresh || !backoffs.retryDue(key))
          return failed(
              here, move, there.error().code(), there.error().message(), key, false, false);
        failuresShown.remove(key);
      }
      if (there == null || there.phase() == DiskState.Phase.Failed)
        there = start(disk, move, target, AgentRequests.agentVersion(to));
      if (there.phase() == DiskState.Phase.Failed) {
        backoffs.failed(key);
        failuresShown.add(key);
        return failed(here, move, there.error().code(), there.error().message(), key, false, false);
      }
      return copying(here, move, there, key);
    } catch (Refused r) {
      return failed(here, move, r.reason, r.getMessage(), key, true, true);
    } catch (AgentUnreachableException e) {
      backoffs.failed(key);
      return failed(here, move, e.reason(), e.getMessage(), key, false, true);
    } catch (AgentException e) {
      backoffs.failed(key);
      return failed(here, move, e.code(), e.getMessage(), key, false, true);
    }
  }

  /** A ticket from the old node for the disk's own image, and the move's PUT to the new node. */
  private DiskState start(VirtualDisk disk, Move move, AgentClient target, int targetVersion) {
    Dom0Node from = healthyNode(move.from(), "the draining node");
    int fromVersion = AgentRequests.agentVersion(from);
    if (fromVersion < Protocol.STREAM_SINCE || targetVersion < Protocol.STREAM_SINCE) {
      boolean source = fromVersion < Protocol.STREAM_SINCE;
      throw new Refused(
          Reasons.AGENT_TOO_OLD,
          "the agent on node "
              + (source ? move.from() : move.to())
              + " speaks protocol "
              + (source ? fromVersion : targetVersion)
              + "; streaming an image from node "
              + move.from()
              + " to node "
              + move.to()
              + " needs protocol "
              + Protocol.STREAM_SINCE
              + " on both: upgrade it, or stop the drain (spec.drain false)");
    }
    String endpoint = from.getStatus().agent().endpoint();
    String ns = disk.getMetadata().getNamespace();
    String name = disk.getMetadata().getName();
    String uid = disk.getMetadata().getUid();
    DiskSpec full = AgentRequests.toWire(disk.getSpec(), null);
    DiskSpec wire =
        new DiskSpec(
            null,
            full.size(),
            full.filesystem(),
            DiskSpec.Populate.move(new DiskSpec.Remote(move.from(), endpoint, "-")),
            null,
            full.xen(),
            full.preallocate(),
            full.reclaimPolicy());
    Protocol.Tailored sent = protocol.forPeer(wire, targetVersion);
    if (sent.lacking() != null) {
      throw new Refused(
          Reasons.AGENT_TOO_OLD, AgentRequests.tooOld(sent.lacking(), move.to(), targetVersion));
    }
    TransferTicket ticket =
        agents
            .forNode(move.from(), endpoint)
            .transferTicket(new TransferTicket.Request(ns, name, uid));
    DiskSpec withTicket =
        new DiskSpec(
            null,
            wire.size(),
            wire.filesystem(),
            DiskSpec.Populate.move(new DiskSpec.Remote(move.from(), endpoint, ticket.ticket())),
            null,
            wire.xen(),
            wire.preallocate(),
            wire.reclaimPolicy());
    return target.putDisk(ns, name, new PutDiskRequest(uid, withTicket));
  }

  /** Step 2: the new node has it: status moves there (the old image is deleted next). */
  private Plan switchOver(Move move, DiskState there) {
    Move switched = move.withStage(MoveStage.Switched);
    return new Plan(
        new AgentDriver.Step(new Outcome.Done(there), SOON),
        move.to(),
        s ->
            decorated(
                s,
                switched,
                Phase.Ready,
                Conditions.FALSE,
                Reasons.MOVING,
                "copied to node "
                    + move.to()
                    + " and checked; the disk is there now, and its old image on node "
                    + move.from()
                    + " is deleted next"));
  }

  /** Step 3: the disk lives on {@code move.to()}; delete its old image on {@code move.from()}. */
  private Plan deleteOld(VirtualDisk disk, Move move, long size) {
    AgentDriver.Step there = driver.drive(disk, move.to(), size);
    String uid = disk.getMetadata().getUid();
    String key = "move/" + uid;
    String moved = "moved from node " + move.from() + " to node " + move.to();
    try {
      Dom0Node from = healthyNode(move.from(), "the node it moved off");
      agents
          .forNode(move.from(), from.getStatus().agent().endpoint())
          .deleteDisk(disk.getMetadata().getNamespace(), disk.getMetadata().getName(), uid);
      backoffs.reset(key);
      String done = moved + " (started " + move.startedAt() + "); the old image is deleted";
      return new Plan(
          there, move.to(), s -> decorated(s, null, null, Conditions.TRUE, Reasons.MOVED, done));
    } catch (Refused | AgentException e) {
      Duration retry = backoffs.failed(key);
      String message =
          moved
              + ", but its old image there is not deleted yet ("
              + e.getMessage()
              + "): nothing uses the old image any more; the delete is retried";
      return new Plan(
          new AgentDriver.Step(there.outcome(), min(there.recheck(), retry)),
          move.to(),
          s -> decorated(s, move, null, Conditions.FALSE, Reasons.MOVING, message));
    }
  }

  /**
   * The drain was called off while copying: whatever the new node has of the disk is deleted there
   * (a running copy is stopped), and the disk stays where it is.
   */
  private Plan cancel(VirtualDisk disk, Move move, String node, long size) {
    String uid = disk.getMetadata().getUid();
    AgentDriver.Step here = driver.drive(disk, node, size);
    try {
      Dom0Node to = healthyNode(move.to(), "the node it was moving to");
      agents
          .forNode(move.to(), to.getStatus().agent().endpoint())
          .deleteDisk(disk.getMetadata().getNamespace(), disk.getMetadata().getName(), uid);
      backoffs.reset("move/" + uid);
      return new Plan(here, node, s -> without(s, Conditions.MOVED));
    } catch (Refused | AgentException e) {
      String message =
          "the drain of node "
              + node
              + " was called off; the partial copy on node "
              + move.to()
              + " is not deleted yet ("
              + e.getMessage()
              + "): retried";
      return new Plan(
          new AgentDriver.Step(here.outcome(), min(here.recheck(), backoffs.failed("move/" + uid))),
          node,
          s -> decorated(s, move, null, Conditions.FALSE, Reasons.MOVE_FAILED, message));
    }
  }

  /**
   * The disk is being deleted in the middle of a move: the copy that status.nodeName does not name
   * (the new node's while copying, the old node's once switched) is deleted first. Empty once it is
   * gone (or there is no move); otherwise why it is not yet, as a deletion that is blocked.
   */
  Optional<Outcome.Blocked> deleteOtherCopy(VirtualDisk disk) {
    VirtualDiskStatus st = disk.getStatus();
    Move move = st == null ? null : st.move();
    if (move == null) return Optional.empty();
    String other = move.stage() == MoveStage.Copying ? move.to() : move.from();
    try {
      Dom0Node node = healthyNode(other, "the other node of its move");
      agents
          .forNode(other, node.getStatus().agent().endpoint())
          .deleteDisk(
              disk.getMetadata().getNamespace(),
              disk.getMetadata().getName(),
              disk.getMetadata().getUid());
      return Optional.empty();
    } catch (Refused e) {
      if (Reasons.NODE_NOT_FOUND.equals(e.reason)) return Optional.empty();
      return Optional.of(new Outcome.Blocked(e.reason, e.getMessage()));
    } catch (AgentException e) {
      return Optional.of(
          new Outcome.Blocked(
              Reasons.DELETION_BLOCKED,
              "the copy of its move on node " + other + " is not deleted yet: " + e.getMessage()));
    }
  }

  /** Not draining and no move: a waiting Moved=False of an earlier drain is dropped. */
  private static Plan forgetWaiting(VirtualDiskStatus st) {
    if (st == null) return Plan.NONE;
    Optional<Condition> moved = Conditions.find(st.conditions(), Conditions.MOVED);
    if (moved.isEmpty() || Conditions.TRUE.equals(moved.get().getStatus())) return Plan.NONE;
    return new Plan(null, null, s -> without(s, Conditions.MOVED));
  }

  private Plan copying(AgentDriver.Step here, Move move, DiskState there, String key) {
    String progress =
        there.percent() == null || there.queued()
            ? (there.queued() ? " (queued on " + move.to() + ")" : "")
            : ": " + there.percent() + "%";
    VirtualDiskStatus.Progress p =
        new VirtualDiskStatus.Progress(
            there.stage(), there.percent(), there.bytesDone(), there.bytesTotal());
    String message =
        "node "
            + move.from()
            + " is draining: copying the image to node "
            + move.to()
            + progress
            + "; the disk stays usable on "
            + move.from()
            + " until the copy is checked, but a guest started from it now stops the move";
    // polled as a build without ends: the move also watches its source, whose use no end tells
    Duration poll = backoffs.nextPoll(key, there.queued(), false);
    return new Plan(
        new AgentDriver.Step(here.outcome(), min(poll, here.recheck())),
        move.from(),
        s -> decorated(s, move, Phase.Moving, p, Conditions.FALSE, Reasons.MOVING, message));
  }

  /**
   * The move cannot go on now. {@code keep}: the new node may still hold or be making a copy (it
   * was not reachable, say), so the move stays aimed at it; otherwise it reported the copy failed,
   * holds nothing, and the next attempt places the disk again (that node may not be the one that
   * fits).
   */
  private Plan failed(
      AgentDriver.Step here,
      Move move,
      String code,
      String why,
      String key,
      boolean waits,
      boolean keep) {
    boolean inUse = ErrorCodes.IMAGE_IN_USE.equals(code);
    String reason = inUse ? Reasons.IMAGE_IN_USE : waits ? code : Reasons.MOVE_FAILED;
    String message =
        inUse
            ? "node "
                + move.from()
                + " is draining, but the image is in use there: "
                + why
                + ". Stop the guest (or whatever holds it) and the move goes on"
            : "node "
                + move.from()
                + " is draining, but the copy to node "
                + move.to()
                + " failed ("
                + why
                + "): the image on "
                + move.from()
                + " is intact and still the disk's; the move is retried";
    Duration retry = waits ? Duration.ofSeconds(30) : backoffs.untilRetry(key);
    Move kept = keep ? move : null;
    return new Plan(
        new AgentDriver.Step(here.outcome(), min(retry, here.recheck())),
        move.from(),
        s -> decorated(s, kept, null, Conditions.FALSE, reason, message));
  }

  private Dom0Node healthyNode(String name, String what) {
    Dom0Node node =
        cluster
            .node(name)
            .orElseThrow(
                () ->
                    new Refused(
                        Reasons.NODE_NOT_FOUND, what + ", " + name + ", has no Dom0Node any more"));
    Optional<String> problem = NodeHealth.problem(node, clock);
    if (problem.isPresent())
      throw new Refused(Reasons.NODE_UNREACHABLE, what + ", " + name + ": " + problem.get());
    return node;
  }

  private static boolean pinned(VirtualDisk disk) {
    String wanted = disk.getSpec().nodeName();
    return wanted != null && !wanted.isEmpty();
  }

  private VirtualDiskStatus decorated(
      VirtualDiskStatus s, Move move, Phase phase, String status, String reason, String message) {
    return decorated(s, move, phase, s.progress(), status, reason, message);
  }

  private VirtualDiskStatus decorated(
      VirtualDiskStatus s,
      Move move,
      Phase phase,
      VirtualDiskStatus.Progress progress,
      String status,
      String reason,
      String message) {
    List<Condition> c =
        Conditions.set(
            s.conditions(),
            Conditions.MOVED,
            status,
            reason,
            message,
            s.observedGeneration(),
            clock);
    return s.moving(move, phase == null ? s.phase() : phase, progress, c);
  }

  private static VirtualDiskStatus without(VirtualDiskStatus s, String type) {
    List<Condition> c =
        s.conditions() == null
            ? null
            : s.conditions().stream().filter(x -> !type.equals(x.getType())).toList();
    return s.moving(null, s.phase(), s.progress(), c);
  }

  private static Duration min(Duration a, Duration b) {
    if (a == null) return b;
    if (b == null) return a;
    return a.compareTo(b) <= 0 ? a : b;
  }

  private static long capacity(DiskState s) {
    return s.capacityBytes() == null ? 0 : s.capacityBytes();
  }

  /** A move that cannot go on now for a reason of its own (not an agent's error). */
  private static final class Refused extends RuntimeException {
    final String reason;

    Refused(String reason, String message) {
      super(message);
      this.reason = reason;
    }
  }
}
