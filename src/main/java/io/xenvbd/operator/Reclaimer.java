package io.xenvbd.operator;

import io.xenvbd.api.Dom0Node;
import io.xenvbd.api.Reasons;
import io.xenvbd.api.VirtualDisk;
import io.xenvbd.api.VirtualDiskSpec;
import io.xenvbd.protocol.AgentClientFactory;
import io.xenvbd.protocol.AgentException;
import io.xenvbd.protocol.AgentUnreachableException;
import io.xenvbd.protocol.ErrorCodes;
import io.xenvbd.protocol.Protocol;
import java.util.Optional;

/**
 * Decides what deleting a VirtualDisk does to its image. The finalizer is released only when the
 * image is gone, is kept on purpose (Retain), was never placed, belongs to someone else, or the
 * admin gave it up ({@link NodeLoss#ABANDON_ANNOTATION}: left on its node untouched, no agent
 * asked). Anything else blocks, with a reason; a node that is lost (its Dom0Node gone, or its agent
 * unreachable) blocks too, because the node may come back, and an image whose VirtualDisk vanished
 * meanwhile could then be neither deleted nor adopted.
 */
final class Reclaimer {
  /** Deletion finished (event to write, or null) or is blocked by {@code blocked}. */
  record Result(String eventType, String reason, String message, Outcome.Blocked blocked) {
    boolean done() {
      return blocked == null;
    }
  }

  private final ClusterView cluster;
  private final AgentClientFactory agents;
  private final OperatorMetrics metrics;

  Reclaimer(ClusterView cluster, AgentClientFactory agents, OperatorMetrics metrics) {
    this.cluster = cluster;
    this.agents = agents;
    this.metrics = metrics;
  }

  Result reclaim(VirtualDisk disk) {
    String node = disk.getStatus() == null ? null : disk.getStatus().nodeName();
    if (node == null)
      return done(null, null, null); // never placed: no agent was ever asked to build it
    String where =
        disk.getStatus().path() == null ? "its image" : "image " + disk.getStatus().path();
    if (NodeLoss.abandoned(disk)) {
      return done(
          EventRecorder.WARNING,
          Reasons.IMAGE_ABANDONED,
          where
              + " was given up ("
              + NodeLoss.ABANDON_ANNOTATION
              + ") and left on dom0 node "
              + node
              + " untouched (no agent was asked; the file keeps the deleted disk as its owner):"
              + " delete it there by hand when no longer needed");
    }
    Optional<Dom0Node> dom0 = cluster.node(node);
    if (dom0.isEmpty()) {
      return blocked(
          Reasons.NODE_DELETED,
          "Dom0Node "
              + node
              + " no longer exists, so no agent can "
              + (disk.getSpec().reclaimPolicy() == VirtualDiskSpec.ReclaimPolicy.Retain
                  ? "release "
                  : "delete ")
              + where
              + "; deletion resumes by itself when the node's agent registers it again; "
              + NodeLoss.forceHint(disk));
    }
    if (disk.getSpec().reclaimPolicy() == VirtualDiskSpec.ReclaimPolicy.Retain)
      return retain(disk, node, where, dom0);
    if (dom0.get().getStatus() == null
        || dom0.get().getStatus().agent() == null
        || dom0.get().getStatus().agent().endpoint() == null) {
      return blocked(
          Reasons.NODE_UNREACHABLE, "the agent of " + node + " has no endpoint registered");
    }
    try {
      agents
          .forNode(node, dom0.get().getStatus().agent().endpoint())
          .deleteDisk(
              disk.getMetadata().getNamespace(),
              disk.getMetadata().getName(),
              disk.getMetadata().getUid());
      metrics.agentCall("delete", "ok");
      return done(EventRecorder.NORMAL, Reasons.DELETED, where + " deleted from dom0 node " + node);
    } catch (AgentUnreachableException e) {
      metrics.agentCall("delete", "unreachable");
      return blocked(
          e.reason(),
          "dom0 node "
              + node
              + ": "
              + e.getMessage()
              + "; deletion resumes when the agent is back; "
              + NodeLoss.forceHint(disk));
    } catch (AgentException e) {
      metrics.agentCall("delete", e.code());
      if (ErrorCodes.NOT_OWNER.equals(e.code())) {
        return done(
            EventRecorder.NORMAL,
            Reasons.DELETED,
            "the image on "
                + node
                + " belongs to another VirtualDisk and was left untouched: "
                + e.getMessage());
      }
      if (ErrorCodes.IMAGE_IN_USE.equals(e.code())) {
        return blocked(
            Reasons.IMAGE_IN_USE,
            e.getMessage()
                + "; detach it (stop the guest, umount, losetup -d)"
                + " and deletion completes by itself");
      }
      return blocked(e.code(), e.getMessage());
    }
  }

  /**
   * Retain: the image stays, and the agent marks it released (former owner kept), so that its
   * Dom0Node lists it and a VirtualDisk of the same namespace can adopt it. An agent before
   * protocol 4 cannot: the image is kept as it always was. Unreachable: blocked, as a delete is,
   * since an image left owned by a VirtualDisk that no longer exists could never be adopted.
   */
  private Result retain(VirtualDisk disk, String node, String where, Optional<Dom0Node> dom0) {
    String ns = disk.getMetadata().getNamespace();
    String name = disk.getMetadata().getName();
    String kept = "reclaimPolicy is Retain: " + where + " stays on dom0 node " + node;
    int version = AgentRequests.agentVersion(dom0.get());
    if (version < Protocol.RELEASE_SINCE) {
      return done(
          EventRecorder.NORMAL,
          Reasons.RETAINED,
          kept
              + " but is not marked released: the agent on "
              + node
              + " speaks protocol "
              + version
              + ", before releases ("
              + Protocol.RELEASE_SINCE
              + "); upgrade it to see such images in status.released and adopt them (delete the file by hand when no"
              + " longer needed)");
    }
    if (dom0.get().getStatus() == null
        || dom0.get().getStatus().agent() == null
        || dom0.get().getStatus().agent().endpoint() == null) {
      return blocked(
          Reasons.NODE_UNREACHABLE,
          "the agent of "
              + node
              + " has no endpoint registered to release "
              + where
              + " to; the deletion resumes when it has");
    }
    try {
      agents
          .forNode(node, dom0.get().getStatus().agent().endpoint())
          .releaseDisk(ns, name, disk.getMetadata().getUid());
      metrics.agentCall("release", "ok");
      return done(
          EventRecorder.NORMAL,
          Reasons.RETAINED,
          kept
              + ", released: its Dom0Node lists it in status.released,"
              + " and a new VirtualDisk in namespace "
              + ns
              + " takes it back with spec.populate.adopt.name "
              + name
              + " (delete the file by hand when no longer needed)");
    } catch (AgentUnreachableException e) {
      metrics.agentCall("release", "unreachable");
      return blocked(
          e.reason(),
          "dom0 node "
              + node
              + ": "
              + e.getMessage()
              + "; releasing the retained image resumes when the agent is back; "
              + NodeLoss.forceHint(disk));
    } catch (AgentException e) {
      metrics.agentCall("release", e.code());
      if (ErrorCodes.NOT_OWNER.equals(e.code())) {
        return done(
            EventRecorder.NORMAL,
            Reasons.RETAINED,
            "the image on "
                + node
                + " belongs to another VirtualDisk and was left untouched: "
                + e.getMessage());
      }
      return blocked(e.code(), e.getMessage());
    }
  }

  private static Result done(String type, String reason, String message) {
    return new Result(type, reason, message, null);
  }

  private static Result blocked(String cause, String message) {
    return new Result(
        EventRecorder.WARNING,
        Reasons.DELETION_BLOCKED,
        message,
        new Outcome.Blocked(cause, message));
  }
}
