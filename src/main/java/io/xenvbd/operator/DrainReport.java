package io.xenvbd.operator;

import io.fabric8.kubernetes.api.model.Condition;
import io.fabric8.kubernetes.client.KubernetesClient;
import io.fabric8.kubernetes.client.KubernetesClientException;
import io.xenvbd.api.Conditions;
import io.xenvbd.api.Dom0Node;
import io.xenvbd.api.Reasons;
import io.xenvbd.api.VirtualDisk;
import io.xenvbd.api.VirtualDiskStatus;
import java.time.Clock;
import java.util.ArrayList;
import java.util.List;
import java.util.Optional;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * The Dom0Node's side of a drain: condition {@code Drained} on every draining node, from the disks'
 * status in the informer cache. False (Draining) while disks are left on the node, with how many,
 * how many are being copied, and each waiting disk's reason (its Moved condition); True (Drained)
 * once none is left. A node that stops draining loses the condition. Written only when it changed,
 * through {@link NodeConditions} (status.conditions alone, from the copy it was computed from); the
 * agent's heartbeat keeps conditions it did not write.
 */
final class DrainReport {
  private static final Logger LOG = LoggerFactory.getLogger(DrainReport.class);

  /** At most this many waiting disks are named in the message. */
  static final int MAX_LISTED = 10;

  private final KubernetesClient client;
  private final ClusterView cluster;
  private final Clock clock;

  DrainReport(KubernetesClient client, ClusterView cluster, Clock clock) {
    this.client = client;
    this.cluster = cluster;
    this.clock = clock;
  }

  /** One pass over every node; errors are logged and the next pass tries again. */
  void run() {
    List<Dom0Node> nodes;
    try {
      nodes = cluster.nodes();
    } catch (RuntimeException notStarted) {
      return; // the informers are not started yet (their cache is null until then)
    }
    for (Dom0Node node : nodes) {
      try {
        update(node);
      } catch (KubernetesClientException e) {
        LOG.warn(
            "cannot write condition Drained of Dom0Node {}: {}",
            node.getMetadata().getName(),
            e.getMessage());
      } catch (RuntimeException e) {
        // a scheduled task that throws is never run again: log and carry on with the next node
        LOG.error("condition Drained of Dom0Node {}", node.getMetadata().getName(), e);
      }
    }
  }

  private void update(Dom0Node node) {
    List<Condition> old = node.getStatus() == null ? null : node.getStatus().conditions();
    if (old == null) return; // not registered yet: the agent writes the first status
    boolean draining = node.getSpec() != null && node.getSpec().draining();
    Optional<Condition> drained = Conditions.find(old, Conditions.DRAINED);
    List<Condition> now;
    if (!draining) {
      if (drained.isEmpty()) return;
      now = old.stream().filter(c -> !Conditions.DRAINED.equals(c.getType())).toList();
    } else {
      Summary s = summarize(node.getMetadata().getName(), cluster.disks());
      now =
          Conditions.set(
              old,
              Conditions.DRAINED,
              s.left == 0 ? Conditions.TRUE : Conditions.FALSE,
              s.left == 0 ? Reasons.DRAINED : Reasons.DRAINING,
              s.message,
              node.getMetadata().getGeneration(),
              clock);
      if (now.equals(old)) return;
    }
    // a node changed since the cache's copy (a heartbeat, Ready=Unknown): the next pass, 2 s on
    NodeConditions.write(client, node, now);
  }

  record Summary(int left, String message) {}

  /** What is left on {@code node}: the disks whose status puts them there or whose old image is. */
  static Summary summarize(String node, List<VirtualDisk> disks) {
    int left = 0;
    int copying = 0;
    int pinned = 0;
    List<String> waiting = new ArrayList<>();
    for (VirtualDisk d : disks) {
      VirtualDiskStatus st = d.getStatus();
      if (st == null) continue;
      VirtualDiskStatus.Move move = st.move();
      boolean oldImageHere = move != null && node.equals(move.from());
      if (!node.equals(st.nodeName()) && !oldImageHere) continue;
      left++;
      String name = d.getMetadata().getNamespace() + "/" + d.getMetadata().getName();
      if (move != null && move.stage() == VirtualDiskStatus.MoveStage.Copying) {
        copying++;
        continue;
      }
      Optional<Condition> moved = Conditions.find(st.conditions(), Conditions.MOVED);
      if (moved.map(c -> Reasons.PINNED.equals(c.getReason())).orElse(false)) pinned++;
      if (oldImageHere && move.stage() == VirtualDiskStatus.MoveStage.Switched) {
        waiting.add(name + " (moved to " + move.to() + "; deleting its old image here)");
      } else {
        waiting.add(
            name
                + " ("
                + moved.map(c -> c.getReason() + ": " + c.getMessage()).orElse("not looked at yet")
                + ")");
      }
    }
    if (left == 0) return new Summary(0, "no disk is left on node " + node + ": it is drained");
    StringBuilder m =
        new StringBuilder()
            .append(left)
            .append(left == 1 ? " disk is" : " disks are")
            .append(" left on node ")
            .append(node)
            .append(": ")
            .append(copying)
            .append(" being copied to other nodes");
    if (pinned > 0) m.append(", ").append(pinned).append(" pinned by spec.nodeName (not moved)");
    if (!waiting.isEmpty()) {
      m.append("; ")
          .append(String.join("; ", waiting.subList(0, Math.min(MAX_LISTED, waiting.size()))));
      if (waiting.size() > MAX_LISTED)
        m.append("; and ").append(waiting.size() - MAX_LISTED).append(" more");
    }
    return new Summary(left, m.toString());
  }
}
