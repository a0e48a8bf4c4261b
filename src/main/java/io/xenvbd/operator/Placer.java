package io.xenvbd.operator;

import io.xenvbd.api.BuildPlan;
import io.xenvbd.api.Dom0Node;
import io.xenvbd.api.Dom0NodeStatus;
import io.xenvbd.api.Populate;
import io.xenvbd.api.Reasons;
import io.xenvbd.api.Sizes;
import io.xenvbd.api.VirtualDisk;
import io.xenvbd.operator.Ledger.Claim;
import io.xenvbd.operator.NodeFit.Need;
import io.xenvbd.operator.NodeFit.Refusal;
import java.time.Clock;
import java.util.ArrayList;
import java.util.Comparator;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.Set;
import java.util.TreeSet;
import java.util.concurrent.ConcurrentHashMap;

/**
 * Chooses a dom0 node for a disk, and admits or refuses the sizes its image is made or grown to. A
 * node takes a new disk when it meets every {@link NodeFit} rule: the same rules whether the
 * operator chooses the node or spec.nodeName (or a clone source) names it. Among fitting nodes the
 * least committed (as a fraction of its bound) wins. A grow is held to the node's capacity and the
 * namespace's ceiling only: a cordon or a namespace rule bounds new placements, never a disk
 * already on the node.
 *
 * <p>Decisions are synchronized and remembered until the informer cache shows them in status, so
 * that two disks decided at the same moment cannot both take the last room.
 */
final class Placer {
  /** A decision: nodeName set when placed, otherwise the Scheduled=False reason and message. */
  record Placement(String nodeName, String reason, String message) {
    boolean placed() {
      return nodeName != null;
    }
  }

  /**
   * A refused grow (or first build at a spec.size grown since placement): InsufficientStorage or
   * QuotaExceeded, and what to change.
   */
  record SizeRefusal(String reason, String message) {}

  private static final String ELSEWHERE =
      "recreate the VirtualDisk with another spec.nodeName, or none to let the"
          + " operator choose (spec.nodeName cannot be changed)";
  private static final String CLONE_ELSEWHERE =
      "set spec.nodeName to a node with room (the source is streamed there)";

  private final ClusterView cluster;
  private final Clock clock;
  private final Map<String, Claim> claims = new ConcurrentHashMap<>();

  /**
   * Sizes admitted by {@link #admitSize}, by uid, so that they count before the cache shows them.
   */
  private final Map<String, Long> admitted = new ConcurrentHashMap<>();

  Placer(ClusterView cluster, Clock clock) {
    this.cluster = cluster;
    this.clock = clock;
  }

  synchronized Placement place(VirtualDisk disk, long size) {
    String uid = disk.getMetadata().getUid();
    Claim earlier = claims.get(uid);
    if (earlier != null) {
      // placed before, and the cache does not show it yet: the same decision, never a second node
      return new Placement(
          earlier.nodeName(), Reasons.NODE_ASSIGNED, "placed on dom0 node " + earlier.nodeName());
    }
    String ns = disk.getMetadata().getNamespace();
    Ledger ledger = Ledger.of(cluster, uid, claims, admitted);
    String wanted = disk.getSpec().nodeName();
    String elsewhere = ELSEWHERE;
    boolean cloneGrows = false;
    var clone = disk.getSpec().populate() == null ? null : disk.getSpec().populate().cloneFrom();
    if (clone != null) {
      // the validator has checked that the source is Ready and on the node spec.nodeName names, if
      // any
      var source = cluster.disk(ns, clone.name());
      if (source.isPresent()
          && source.get().getStatus() != null
          && source.get().getStatus().nodeName() != null) {
        // spec.nodeName wins (the source is streamed there from its node); else the source's node,
        // where the copy is local
        if (wanted == null || wanted.isEmpty()) {
          wanted = source.get().getStatus().nodeName();
          elsewhere = CLONE_ELSEWHERE;
        }
        Long sourceBytes = source.get().getStatus().capacityBytes();
        cloneGrows = sourceBytes == null || sourceBytes < size;
      }
    }
    var adopt = disk.getSpec().populate() == null ? null : disk.getSpec().populate().adopt();
    long unpromised = size;
    if (adopt != null && adopt.importFile() == null) {
      // a released image is on one node, and its bytes are promised there already
      Optional<Map.Entry<String, Dom0NodeStatus.Released>> holder = releasedOn(ns, adopt, wanted);
      if (holder.isEmpty()) {
        return new Placement(
            null,
            Reasons.NODE_NOT_FOUND,
            "no Dom0Node"
                + (wanted == null || wanted.isEmpty() ? "" : " named " + wanted)
                + " lists the released image that spec.populate.adopt names in its status.released:"
                + " check the name or uuid against the Dom0Nodes' status.released, or set spec.nodeName to the node that"
                + " holds it (a node lists its 100 most recent)");
      }
      wanted = holder.get().getKey();
      Long kept = holder.get().getValue().capacityBytes();
      unpromised = Math.max(0, size - (kept == null ? 0 : kept));
    }
    if (wanted != null && !wanted.isEmpty()) {
      return placeOn(
          disk,
          wanted,
          new Need(ns, size, unpromised, BuildPlan.needsLoopDevice(disk.getSpec(), cloneGrows)),
          ledger,
          elsewhere);
    }
    // a node the operator chooses must also have a loop device for the guest that will use the disk
    return choose(
        disk,
        new Need(ns, size, size, true),
        ledger,
        null,
        "the disk stays Pending and is placed as soon as a node has room");
  }

  /**
   * A new node for a disk moving off {@code from} (a drain): the rules of a placement the operator
   * chooses (health, cordon, namespace, capacity, the namespace's ceiling, a loop device), over
   * every node but {@code from}, whatever spec.populate once named. The disk then counts on the new
   * node (and, through its status, on the old one until it has moved).
   */
  synchronized Placement placeMove(VirtualDisk disk, long size, String from) {
    String uid = disk.getMetadata().getUid();
    Ledger ledger = Ledger.of(cluster, uid, claims, admitted);
    return choose(
        disk,
        new Need(disk.getMetadata().getNamespace(), size, size, true),
        ledger,
        from,
        "the disk stays on " + from + ", Ready, and moves as soon as a node has room");
  }

  private Placement choose(
      VirtualDisk disk, Need need, Ledger ledger, String except, String meanwhile) {
    long size = need.size();
    List<String> problems = new ArrayList<>();
    Set<String> shortages = new TreeSet<>();
    List<Dom0Node> fitting = new ArrayList<>();
    for (Dom0Node node : cluster.nodes()) {
      if (node.getMetadata().getName().equals(except)) continue;
      Optional<Refusal> refusal =
          NodeFit.schedulable(node, need, clock).or(() -> NodeFit.room(node, need, ledger));
      if (refusal.isEmpty()) {
        fitting.add(node);
        continue;
      }
      String reason = refusal.get().reason();
      if (!reason.equals(Reasons.NODE_NOT_READY) && !reason.equals(Reasons.NODE_CORDONED))
        shortages.add(reason);
      problems.add(node.getMetadata().getName() + ": " + refusal.get().problem());
    }
    if (!fitting.isEmpty()) {
      fitting.sort(
          Comparator.comparingDouble((Dom0Node n) -> committedFraction(n, ledger))
              .thenComparing(n -> n.getMetadata().getName()));
      String best = fitting.get(0).getMetadata().getName();
      return claim(
          disk,
          best,
          size,
          "placed on dom0 node "
              + best
              + ", the least committed of "
              + fitting.size()
              + " that fit");
    }
    String reason = shortages.size() == 1 ? shortages.iterator().next() : Reasons.NO_NODE_FITS;
    String detail =
        problems.isEmpty()
            ? "no Dom0Node exists yet: start the xenvbd agent on a dom0"
            : String.join("; ", problems);
    return new Placement(
        null,
        reason,
        "no dom0 node fits " + disk.getSpec().size() + " now (" + detail + "); " + meanwhile);
  }

  /**
   * Whether the image of a placed disk may be made or grown from {@code current} (0: no image yet)
   * to {@code size} bytes on its node: empty when it may (and the size then counts against the node
   * at once), otherwise why not. A size already admitted, or no larger than the image, always may.
   */
  synchronized Optional<SizeRefusal> admitSize(
      VirtualDisk disk, Dom0Node node, long size, long current) {
    String uid = disk.getMetadata().getUid();
    if (size <= current || Long.valueOf(size).equals(admitted.get(uid))) return Optional.empty();
    Claim claim = claims.get(uid);
    if (current == 0 && claim != null && size <= claim.bytes())
      return Optional.empty(); // as placed
    Ledger ledger = Ledger.of(cluster, uid, claims, admitted);
    long unpromised = Ledger.notYetPromised(disk, NodeHealth.lastHeartbeat(node), size);
    Optional<Refusal> refusal =
        NodeFit.room(
            node, new Need(disk.getMetadata().getNamespace(), size, unpromised, false), ledger);
    if (refusal.isEmpty()) {
      admitted.put(uid, size);
      return Optional.empty();
    }
    admitted.remove(uid);
    String name = node.getMetadata().getName();
    return Optional.of(
        new SizeRefusal(
            refusal.get().reason(),
            current == 0
                ? NodeFit.explainBuild(refusal.get(), name, disk.getSpec().size())
                : NodeFit.explainGrow(
                    refusal.get(), name, Sizes.human(current), disk.getSpec().size())));
  }

  /** The disk is gone: its placement and grows no longer count. */
  void forget(String uid) {
    claims.remove(uid);
    admitted.remove(uid);
  }

  /**
   * The node (spec.nodeName's, if given) whose Dom0Node lists the released image {@code adopt}
   * names.
   */
  private Optional<Map.Entry<String, Dom0NodeStatus.Released>> releasedOn(
      String ns, Populate.Adopt adopt, String wanted) {
    String formerNs = adopt.namespace() == null ? ns : adopt.namespace();
    for (Dom0Node node : cluster.nodes()) {
      String name = node.getMetadata().getName();
      if (wanted != null && !wanted.isEmpty() && !wanted.equals(name)) continue;
      if (node.getStatus() == null || node.getStatus().released() == null) continue;
      for (Dom0NodeStatus.Released r : node.getStatus().released()) {
        boolean match =
            adopt.uuid() != null
                ? adopt.uuid().equalsIgnoreCase(r.filesystemUUID())
                : adopt.name().equals(r.formerName()) && formerNs.equals(r.formerNamespace());
        if (match) return Optional.of(Map.entry(name, r));
      }
    }
    return Optional.empty();
  }

  private Placement placeOn(
      VirtualDisk disk, String name, Need need, Ledger ledger, String elsewhere) {
    Optional<Dom0Node> node = cluster.node(name);
    if (node.isEmpty()) {
      return new Placement(
          null,
          Reasons.NODE_NOT_FOUND,
          "Dom0Node "
              + name
              + " does not exist: start the xenvbd agent on that node or "
              + elsewhere);
    }
    Optional<Refusal> refusal =
        NodeFit.schedulable(node.get(), need, clock)
            .or(() -> NodeFit.room(node.get(), need, ledger));
    if (refusal.isPresent())
      return new Placement(
          null, refusal.get().reason(), NodeFit.explain(refusal.get(), name, elsewhere));
    return claim(disk, name, need.size(), "placed on dom0 node " + name + " as requested");
  }

  private Placement claim(VirtualDisk disk, String node, long size, String message) {
    claims.put(
        disk.getMetadata().getUid(), new Claim(node, disk.getMetadata().getNamespace(), size));
    return new Placement(node, Reasons.NODE_ASSIGNED, message);
  }

  private static double committedFraction(Dom0Node node, Ledger ledger) {
    double bound = NodeFit.bound(node);
    return bound <= 0 ? Double.MAX_VALUE : NodeFit.committed(node, ledger) / bound;
  }
}
