package io.xenvbd.operator;

import io.xenvbd.api.Dom0Node;
import io.xenvbd.api.Reasons;
import io.xenvbd.api.VirtualDisk;
import java.time.Clock;
import java.time.Instant;
import java.util.Map;
import java.util.Optional;

/**
 * What a placed disk says when its node is lost: its agent stopped heartbeating ({@code NodeLost})
 * or its Dom0Node is gone ({@code NodeDeleted}). Either way the disk stays bound to that node (its
 * image is there, and no other node has it), nothing is sent to any agent, and it recovers by
 * itself when the node's agent heartbeats or registers again. Deleting such a disk waits for the
 * node too, unless the admin gives the image up with {@link #ABANDON_ANNOTATION}.
 */
final class NodeLoss {
  private NodeLoss() {}

  /**
   * On a VirtualDisk being deleted: finish without asking any agent, and leave the image on its
   * node untouched (for the admin to delete by hand).
   */
  static final String ABANDON_ANNOTATION = "xenvbd.io/abandon-image";

  /** Why the disk on {@code nodeName} cannot be driven now because its node is lost; else empty. */
  static Optional<Outcome.Unreachable> of(String nodeName, Optional<Dom0Node> node, Clock clock) {
    if (node.isEmpty()) {
      return Optional.of(
          new Outcome.Unreachable(
              Reasons.NODE_DELETED,
              "Dom0Node "
                  + nodeName
                  + " no longer exists: the image stays on "
                  + nodeName
                  + " and this disk is not moved to another node. If the agent there still runs,"
                  + " it registers the node again within a heartbeat and the disk turns Ready by"
                  + " itself; start it if it does not"));
    }
    Optional<Instant> since = NodeHealth.missedSince(node.get(), clock);
    if (since.isEmpty()) return Optional.empty();
    return Optional.of(
        new Outcome.Unreachable(
            Reasons.NODE_LOST,
            "dom0 node "
                + nodeName
                + " is lost: no heartbeat from its agent since "
                + since.get()
                + " (it heartbeats every "
                + NodeHealth.heartbeatSeconds(node.get())
                + "s); the image stays on "
                + nodeName
                + " and this disk is not moved to another node. Check that the xenvbd agent runs on "
                + nodeName
                + " and reaches the API server; the disk turns Ready by itself when it heartbeats"
                + " again"));
  }

  /** Whether the admin gave up the disk's image (see {@link #ABANDON_ANNOTATION}). */
  static boolean abandoned(VirtualDisk disk) {
    Map<String, String> annotations = disk.getMetadata().getAnnotations();
    return annotations != null && "true".equals(annotations.get(ABANDON_ANNOTATION));
  }

  /** The one way to finish deleting a disk whose node does not come back, in words to act on. */
  static String forceHint(VirtualDisk disk) {
    return "if the node does not come back, give the image up with kubectl annotate virtualdisk "
        + disk.getMetadata().getName()
        + " -n "
        + disk.getMetadata().getNamespace()
        + " "
        + ABANDON_ANNOTATION
        + "=true (deletion then finishes and the image is left on the node, untouched)";
  }
}
