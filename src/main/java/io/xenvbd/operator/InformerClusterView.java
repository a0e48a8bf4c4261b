package io.xenvbd.operator;

import io.javaoperatorsdk.operator.api.config.informer.InformerEventSourceConfiguration;
import io.javaoperatorsdk.operator.api.reconciler.EventSourceContext;
import io.javaoperatorsdk.operator.processing.event.ResourceID;
import io.javaoperatorsdk.operator.processing.event.source.Cache;
import io.javaoperatorsdk.operator.processing.event.source.informer.InformerEventSource;
import io.xenvbd.api.Conditions;
import io.xenvbd.api.Dom0Node;
import io.xenvbd.api.VirtualDisk;
import java.util.List;
import java.util.Set;
import java.util.stream.Collectors;

/**
 * The ClusterView of the running operator: VirtualDisks from the controller's own cache, Dom0Nodes
 * from an informer that also wakes every disk still waiting on a node (unplaced, or placed there
 * and not Ready) whenever that node changes, e.g. on each heartbeat or when it frees room.
 */
final class InformerClusterView implements ClusterView {
  private volatile Cache<Dom0Node> nodes;
  private volatile Cache<VirtualDisk> disks;

  /**
   * Called from the reconciler's prepareEventSources: creates the Dom0Node informer and keeps both
   * caches.
   */
  InformerEventSource<Dom0Node, VirtualDisk> connect(EventSourceContext<VirtualDisk> context) {
    this.disks = context.getPrimaryCache();
    var config =
        InformerEventSourceConfiguration.from(Dom0Node.class, VirtualDisk.class)
            .withName("dom0nodes")
            .withSecondaryToPrimaryMapper(node -> waitingOn(node, disks(), gone(node)))
            .build();
    InformerEventSource<Dom0Node, VirtualDisk> source = new InformerEventSource<>(config, context);
    this.nodes = source;
    return source;
  }

  /**
   * Disks a change of this node may move: those not Ready that could be placed on it or are on it,
   * those on it whose LoopDeviceAvailable condition the node's loop devices now contradict, and
   * those on it whose grow was refused (the node may have room now), and those a drain moves or
   * moved off it or onto it ({@link Mover#concerns}). A Ready disk is otherwise only looked at
   * every readyRecheck, and a heartbeat changes every node.
   */
  static Set<ResourceID> waitingOn(Dom0Node node, List<VirtualDisk> disks) {
    return waitingOn(node, disks, false);
  }

  /**
   * As {@link #waitingOn(Dom0Node, List)}, and also every disk on a node that is lost: its Dom0Node
   * just deleted ({@code gone}) or its Ready no longer True (the operator's HeartbeatMissed), so
   * that a Ready disk there says so at once, not at its next readyRecheck.
   */
  static Set<ResourceID> waitingOn(Dom0Node node, List<VirtualDisk> disks, boolean gone) {
    String name = node.getMetadata().getName();
    boolean lost =
        gone
            || node.getStatus() != null
                && Conditions.find(node.getStatus().conditions(), Conditions.READY)
                    .map(c -> !Conditions.TRUE.equals(c.getStatus()))
                    .orElse(false);
    if (lost) {
      Set<ResourceID> on =
          disks.stream()
              .filter(d -> d.getStatus() != null && name.equals(d.getStatus().nodeName()))
              .map(ResourceID::fromResource)
              .collect(Collectors.toSet());
      if (!gone) on.addAll(waiting(node, disks));
      return on;
    }
    return waiting(node, disks);
  }

  private static Set<ResourceID> waiting(Dom0Node node, List<VirtualDisk> disks) {
    String name = node.getMetadata().getName();
    String loops = StatusBuilder.loopStatus(node);
    return disks.stream()
        .filter(
            d ->
                d.getStatus() == null
                    || (d.getStatus().nodeName() == null || name.equals(d.getStatus().nodeName()))
                        && !Conditions.isTrue(d.getStatus().conditions(), Conditions.READY)
                    || name.equals(d.getStatus().nodeName())
                        && !loops.equals(
                            Conditions.find(
                                    d.getStatus().conditions(), Conditions.LOOP_DEVICE_AVAILABLE)
                                .map(c -> c.getStatus())
                                .orElse(null))
                    || name.equals(d.getStatus().nodeName()) && Ledger.sizeRefused(d.getStatus())
                    || Mover.concerns(node, d))
        .map(ResourceID::fromResource)
        .collect(Collectors.toSet());
  }

  /**
   * Whether the cache no longer has {@code node}: the informer removes a deleted object before it
   * tells its handlers, so a mapping of a delete event sees it gone.
   */
  private boolean gone(Dom0Node node) {
    Cache<Dom0Node> c = nodes;
    return c != null && c.get(ResourceID.fromResource(node)).isEmpty();
  }

  @Override
  public List<Dom0Node> nodes() {
    Cache<Dom0Node> c = nodes;
    return c == null ? List.of() : c.list().collect(Collectors.toList());
  }

  @Override
  public List<VirtualDisk> disks() {
    Cache<VirtualDisk> c = disks;
    return c == null ? List.of() : c.list().collect(Collectors.toList());
  }
}
