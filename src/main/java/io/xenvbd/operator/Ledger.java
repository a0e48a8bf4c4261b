package io.xenvbd.operator;

import io.fabric8.kubernetes.api.model.Condition;
import io.xenvbd.api.Conditions;
import io.xenvbd.api.Dom0Node;
import io.xenvbd.api.Reasons;
import io.xenvbd.api.Sizes;
import io.xenvbd.api.VirtualDisk;
import io.xenvbd.api.VirtualDiskStatus;
import java.time.Instant;
import java.util.HashMap;
import java.util.Map;
import java.util.Objects;
import java.util.Optional;
import java.util.Set;
import java.util.concurrent.ConcurrentHashMap;

/**
 * What is committed on each node besides one disk being decided: per node, the bytes its last
 * heartbeat cannot include yet, and per node and namespace, the sizes of that namespace's disks
 * there. Built in one pass over the disks for all nodes (a placement among 20 nodes and 1000 disks
 * once took 20 passes), from the informer cache plus the placer's own decisions the cache does not
 * show yet.
 */
final class Ledger {
  /** A placement this operator made: counted until the cache shows the disk on its node. */
  record Claim(String nodeName, String namespace, long bytes) {}

  /** Reasons with which a grow is refused: such a disk counts at the size its image has. */
  private static final Set<String> GROW_REFUSALS =
      Set.of(Reasons.INSUFFICIENT_STORAGE, Reasons.QUOTA_EXCEEDED);

  private final Map<String, Long> pending = new HashMap<>();
  private final Map<String, Long> namespaced = new HashMap<>();

  private Ledger() {}

  /**
   * @param self the disk being decided, left out of every sum
   * @param claims placements by uid
   * @param grows grows admitted by uid (the target bytes), counted before the cache shows them
   */
  static Ledger of(
      ClusterView cluster, String self, Map<String, Claim> claims, Map<String, Long> grows) {
    Map<String, Instant> heartbeats = new HashMap<>();
    for (Dom0Node node : cluster.nodes())
      heartbeats.put(node.getMetadata().getName(), NodeHealth.lastHeartbeat(node));
    Map<String, Map<String, Long>> pendingByUid = new HashMap<>();
    Map<String, Map<String, Long>> namespacedByUid = new HashMap<>();
    for (VirtualDisk d : cluster.disks()) {
      VirtualDiskStatus st = d.getStatus();
      String uid = d.getMetadata().getUid();
      if (st == null || st.nodeName() == null || Objects.equals(uid, self)) continue;
      long bytes = committedBytes(d, grows.get(uid));
      namespacedByUid
          .computeIfAbsent(key(st.nodeName(), d.getMetadata().getNamespace()), k -> new HashMap<>())
          .put(uid, bytes);
      Instant heartbeat = heartbeats.get(st.nodeName());
      if (heartbeat != null) {
        pendingByUid
            .computeIfAbsent(st.nodeName(), k -> new HashMap<>())
            .put(uid, notYetPromised(d, heartbeat, bytes));
      }
    }
    claims.forEach(
        (uid, claim) -> {
          if (uid.equals(self)) return;
          pendingByUid
              .computeIfAbsent(claim.nodeName(), k -> new HashMap<>())
              .putIfAbsent(uid, claim.bytes());
          namespacedByUid
              .computeIfAbsent(key(claim.nodeName(), claim.namespace()), k -> new HashMap<>())
              .putIfAbsent(uid, claim.bytes());
        });
    Ledger ledger = new Ledger();
    pendingByUid.forEach((node, disks) -> ledger.pending.put(node, sum(disks)));
    namespacedByUid.forEach((key, disks) -> ledger.namespaced.put(key, sum(disks)));
    return ledger;
  }

  /** Bytes on the node that its last heartbeat's promisedBytes does not include yet. */
  long pending(String node) {
    return pending.getOrDefault(node, 0L);
  }

  /** Sum of the sizes of the namespace's disks on the node. */
  long namespaceBytes(String node, String namespace) {
    return namespaced.getOrDefault(key(node, namespace), 0L);
  }

  /**
   * The size a placed disk holds on its node: spec.size, but the image's size (0 before it is
   * built) while that size is refused (a refused size promises nothing, or every later disk on the
   * node would wait for it), and the size this operator admitted before the cache shows it.
   */
  static long committedBytes(VirtualDisk d, Long admitted) {
    long spec = Math.max(0, bytes(d.getSpec().size()));
    Long image = d.getStatus().capacityBytes();
    if (admitted != null) return Math.max(admitted, image == null ? 0 : image);
    if (sizeRefused(d.getStatus())) return image == null ? 0 : image;
    return image == null ? spec : Math.max(spec, image);
  }

  /**
   * Whether the status says spec.size was refused on the disk's node: a grow (Resized=False), or
   * the first build of a disk whose spec.size grew after placement (no image, Ready=False).
   */
  static boolean sizeRefused(VirtualDiskStatus status) {
    String type = status.capacityBytes() == null ? Conditions.READY : Conditions.RESIZED;
    return Conditions.find(status.conditions(), type)
        .filter(
            c -> Conditions.FALSE.equals(c.getStatus()) && GROW_REFUSALS.contains(c.getReason()))
        .isPresent();
  }

  /**
   * Of a placed disk's {@code size}, what the node's promisedBytes does not include yet: all of it
   * until its image got its current size (provisioned, or grown: Resized turned True) before the
   * last heartbeat (a second of slack for truncated timestamps), and afterwards only what it grows
   * beyond its image.
   */
  static long notYetPromised(VirtualDisk d, Instant lastHeartbeat, long size) {
    VirtualDiskStatus st = d.getStatus();
    var provisioned =
        st == null
            ? Optional.<Condition>empty()
            : Conditions.find(st.conditions(), Conditions.PROVISIONED)
                .filter(c -> Conditions.TRUE.equals(c.getStatus()));
    if (provisioned.isEmpty() || st.capacityBytes() == null) return size;
    var grown =
        Conditions.find(st.conditions(), Conditions.RESIZED)
            .filter(c -> Conditions.TRUE.equals(c.getStatus()));
    Instant at;
    try {
      at = Instant.parse(provisioned.get().getLastTransitionTime());
      if (grown.isPresent()) {
        Instant grownAt = Instant.parse(grown.get().getLastTransitionTime());
        if (grownAt.isAfter(at)) at = grownAt;
      }
    } catch (RuntimeException e) {
      return size;
    }
    if (!at.isBefore(lastHeartbeat.minusSeconds(1))) return size;
    return Math.max(0, size - st.capacityBytes());
  }

  /**
   * Parsed spec.size values: every decision reads every placed disk's size, and there are few
   * distinct ones.
   */
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

  private static String key(String node, String namespace) {
    return node + "/" + namespace; // neither a node nor a namespace name can hold a slash
  }

  private static long sum(Map<String, Long> bytes) {
    long total = 0;
    for (long b : bytes.values()) total = plus(total, b);
    return total;
  }

  /**
   * a + b, held at the long range instead of wrapping: spec sizes are the tenants' to choose (up to
   * 8Ei each), and a sum that wrapped negative would make a full node look empty.
   */
  static long plus(long a, long b) {
    long r = a + b;
    if (((a ^ r) & (b ^ r)) < 0) return a > 0 ? Long.MAX_VALUE : Long.MIN_VALUE;
    return r;
  }
}
