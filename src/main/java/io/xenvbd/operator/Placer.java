package io.xenvbd.operator;

import io.xenvbd.api.Conditions;
import io.xenvbd.api.Dom0Node;
import io.xenvbd.api.Dom0NodeStatus;
import io.xenvbd.api.Reasons;
import io.xenvbd.api.Sizes;
import io.xenvbd.api.VirtualDisk;
import io.xenvbd.api.VirtualDiskStatus;
import java.time.Clock;
import java.time.Instant;
import java.util.ArrayList;
import java.util.Comparator;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.Objects;
import java.util.Set;
import java.util.TreeSet;
import java.util.concurrent.ConcurrentHashMap;

/**
 * Chooses a dom0 node for a disk. A node fits when its agent is healthy, it is not cordoned, it has a
 * loop device to spare, and {@code overcommitRatio x capacity - committed >= size}, where committed is
 * what the node's last heartbeat promised plus the disks placed on it that the heartbeat cannot know
 * yet. Among fitting nodes the least committed (as a fraction of its bound) wins.
 *
 * <p>Placement is synchronized and remembers its own choices until the informer cache shows them in
 * status, so that two disks reconciled at the same moment cannot both take the last slot.
 */
final class Placer {
  /** A decision: nodeName set when placed, otherwise the Scheduled=False reason and message. */
  record Placement(String nodeName, String reason, String message) {
    boolean placed() {
      return nodeName != null;
    }
  }

  private record Claim(String nodeName, long bytes) {}

  private final ClusterView cluster;
  private final Clock clock;
  private final Map<String, Claim> claims = new ConcurrentHashMap<>();

  Placer(ClusterView cluster, Clock clock) {
    this.cluster = cluster;
    this.clock = clock;
  }

  synchronized Placement place(VirtualDisk disk, long size) {
    Claim earlier = claims.get(disk.getMetadata().getUid());
    if (earlier != null) {
      // placed before, and the cache does not show it yet: the same decision, never a second node
      return new Placement(earlier.nodeName(), Reasons.NODE_ASSIGNED, "placed on dom0 node " + earlier.nodeName());
    }
    String wanted = disk.getSpec().nodeName();
    var clone = disk.getSpec().populate() == null ? null : disk.getSpec().populate().cloneFrom();
    if (clone != null) {
      // the validator has checked that the source is Ready and on an allowed node
      wanted = cluster.disk(disk.getMetadata().getNamespace(), clone.name())
          .map(d -> d.getStatus().nodeName()).orElse(wanted);
    }
    if (wanted != null && !wanted.isEmpty()) {
      if (cluster.node(wanted).isEmpty()) {
        return new Placement(null, Reasons.NODE_NOT_FOUND, "Dom0Node " + wanted
            + " does not exist: start the xenvbd agent on that node or change spec.nodeName");
      }
      return claim(disk, wanted, size, "placed on dom0 node " + wanted + " as requested");
    }
    List<String> problems = new ArrayList<>();
    Set<String> shortages = new TreeSet<>();
    List<Candidate> fitting = new ArrayList<>();
    Map<String, Long> pending = pendingByNode(disk);
    for (Dom0Node node : cluster.nodes()) {
      String name = node.getMetadata().getName();
      var unhealthy = NodeHealth.problem(node, clock);
      if (unhealthy.isPresent()) {
        problems.add(name + ": not Ready");
      } else if (node.getSpec() != null && Boolean.TRUE.equals(node.getSpec().unschedulable())) {
        problems.add(name + ": cordoned (spec.unschedulable)");
      } else if (node.getStatus().loopDevices() == null || !node.getStatus().loopDevices().hasFree()) {
        shortages.add(Reasons.LOOP_DEVICES_EXHAUSTED);
        problems.add(name + ": no free loop device (" + summary(node.getStatus()) + ")");
      } else {
        Candidate c = candidate(node, pending.getOrDefault(name, 0L));
        if (c.room() < size) {
          shortages.add(Reasons.INSUFFICIENT_STORAGE);
          problems.add(name + ": " + Sizes.human(Math.max(0, c.room())) + " left to promise");
        } else {
          fitting.add(c);
        }
      }
    }
    if (!fitting.isEmpty()) {
      fitting.sort(Comparator.comparingDouble(Candidate::committedFraction).thenComparing(Candidate::name));
      Candidate best = fitting.get(0);
      return claim(disk, best.name(), size, "placed on dom0 node " + best.name() + ", the least committed of "
          + fitting.size() + " that fit");
    }
    String reason = shortages.size() == 1 ? shortages.iterator().next() : Reasons.NO_NODE_FITS;
    String detail = problems.isEmpty() ? "no Dom0Node exists yet: start the xenvbd agent on a dom0" : String.join("; ", problems);
    return new Placement(null, reason, "no dom0 node fits " + disk.getSpec().size() + " now (" + detail
        + "); the disk stays Pending and is placed as soon as a node has room");
  }

  /** The disk is gone: its claim no longer counts. */
  void forget(String uid) {
    claims.remove(uid);
  }

  private Placement claim(VirtualDisk disk, String node, long size, String message) {
    claims.put(disk.getMetadata().getUid(), new Claim(node, size));
    return new Placement(node, Reasons.NODE_ASSIGNED, message);
  }

  private record Candidate(String name, double bound, long committed) {
    long room() {
      return (long) bound - committed;
    }

    double committedFraction() {
      return bound <= 0 ? Double.MAX_VALUE : committed / bound;
    }
  }

  private Candidate candidate(Dom0Node node, long pending) {
    String name = node.getMetadata().getName();
    Dom0NodeStatus.Storage storage = node.getStatus().storage();
    long capacity = storage == null || storage.capacityBytes() == null ? 0 : storage.capacityBytes();
    long promised = storage == null || storage.promisedBytes() == null ? 0 : storage.promisedBytes();
    double ratio = node.getSpec() == null ? 1.0 : node.getSpec().overcommitRatio();
    return new Candidate(name, ratio * capacity, promised + pending);
  }

  /**
   * Per node, the bytes placed on it that its last heartbeat cannot include yet: the disks whose
   * status names the node, and this operator's own claims the cache does not show yet. One pass over
   * the disks for all nodes (a placement among 20 nodes and 1000 disks once took 20 passes).
   */
  private Map<String, Long> pendingByNode(VirtualDisk self) {
    String selfUid = self.getMetadata().getUid();
    Map<String, Instant> heartbeats = new HashMap<>();
    for (Dom0Node node : cluster.nodes()) heartbeats.put(node.getMetadata().getName(), NodeHealth.lastHeartbeat(node));
    Map<String, Map<String, Long>> byNode = new HashMap<>();
    for (VirtualDisk d : cluster.disks()) {
      VirtualDiskStatus st = d.getStatus();
      if (st == null || st.nodeName() == null || Objects.equals(d.getMetadata().getUid(), selfUid)) continue;
      Instant heartbeat = heartbeats.get(st.nodeName());
      if (heartbeat == null) continue;
      byNode.computeIfAbsent(st.nodeName(), k -> new HashMap<>()).put(d.getMetadata().getUid(), notYetPromised(d, heartbeat));
    }
    claims.forEach((uid, claim) -> {
      if (!uid.equals(selfUid)) byNode.computeIfAbsent(claim.nodeName(), k -> new HashMap<>()).putIfAbsent(uid, claim.bytes());
    });
    Map<String, Long> pending = new HashMap<>();
    byNode.forEach((node, disks) -> pending.put(node, disks.values().stream().mapToLong(Long::longValue).sum()));
    return pending;
  }

  /**
   * Bytes of a placed disk that the node's promisedBytes does not include yet: all of it until its
   * image was provisioned before the last heartbeat (a second of slack for truncated timestamps), and
   * afterwards only a pending growth.
   */
  static long notYetPromised(VirtualDisk d, Instant lastHeartbeat) {
    long size = bytes(d.getSpec().size());
    if (size < 0) return 0;
    var provisioned = Conditions.find(d.getStatus().conditions(), Conditions.PROVISIONED)
        .filter(c -> Conditions.TRUE.equals(c.getStatus()));
    if (provisioned.isEmpty() || d.getStatus().capacityBytes() == null) return size;
    Instant at;
    try {
      at = Instant.parse(provisioned.get().getLastTransitionTime());
    } catch (RuntimeException e) {
      return size;
    }
    if (!at.isBefore(lastHeartbeat.minusSeconds(1))) return size;
    return Math.max(0, size - d.getStatus().capacityBytes());
  }

  /** Parsed spec.size values: placement reads every placed disk's size, and there are few distinct ones. */
  private static final Map<String, Long> SIZES = new ConcurrentHashMap<>();

  /** Bytes of a quantity, or -1 when it does not parse (the validator reports that). */
  static long bytes(String quantity) {
    if (quantity == null) return -1;
    Long known = SIZES.get(quantity);
    if (known != null) return known;
    long b;
    try {
      b = Sizes.bytes(quantity);
    } catch (RuntimeException e) {
      b = -1;
    }
    if (SIZES.size() > 10_000) SIZES.clear();
    SIZES.put(quantity, b);
    return b;
  }

  private static String summary(Dom0NodeStatus status) {
    return status.loopDevices() == null ? "unknown" : status.loopDevices().summary() + " in use";
  }
}
