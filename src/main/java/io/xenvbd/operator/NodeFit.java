package io.xenvbd.operator;

import io.xenvbd.api.Dom0Node;
import io.xenvbd.api.Dom0NodeSpec;
import io.xenvbd.api.Dom0NodeStatus;
import io.xenvbd.api.Reasons;
import io.xenvbd.api.Sizes;
import java.math.BigDecimal;
import java.time.Clock;
import java.util.Optional;

/**
 * The rules a node must meet to take a new disk, the same whether the operator chooses the node or
 * the spec names it, and the two byte bounds a grow must meet too. A refusal has a CamelCase
 * reason, a short problem for the list of nodes an unplaced disk shows, and the facts a full
 * message needs.
 */
final class NodeFit {
  private NodeFit() {}

  /** Why a node cannot take a disk: {@code problem} is short ("cordoned (spec.unschedulable)"). */
  record Refusal(String reason, String problem, String detail) {}

  /**
   * What a disk asks of a node: bytes it adds to the namespace's total and beyond the node's last
   * heartbeat.
   */
  record Need(String namespace, long size, long unpromised, boolean loopDevice) {}

  /** Health, cordon, namespace and loop device: the rules for a new placement only. */
  static Optional<Refusal> schedulable(Dom0Node node, Need need, Clock clock) {
    String name = node.getMetadata().getName();
    Optional<String> unhealthy = NodeHealth.problem(node, clock);
    if (unhealthy.isPresent()) return refuse(Reasons.NODE_NOT_READY, "not Ready", unhealthy.get());
    Dom0NodeSpec spec = spec(node);
    if (spec.draining()) {
      return refuse(
          Reasons.NODE_CORDONED,
          "draining (spec.drain)",
          "Dom0Node " + name + " is draining (spec.drain: true), which cordons it");
    }
    if (Boolean.TRUE.equals(spec.unschedulable())) {
      return refuse(
          Reasons.NODE_CORDONED,
          "cordoned (spec.unschedulable)",
          "Dom0Node " + name + " is cordoned (spec.unschedulable: true)");
    }
    if (!spec.allows(need.namespace())) {
      // the other namespaces allowed there are not named: they are other tenants' business
      return refuse(
          Reasons.NAMESPACE_NOT_ALLOWED,
          "namespace " + need.namespace() + " not allowed (spec.allowedNamespaces)",
          "Dom0Node "
              + name
              + " does not take disks from namespace "
              + need.namespace()
              + " (spec.allowedNamespaces)");
    }
    var loops = node.getStatus().loopDevices();
    if (need.loopDevice() && (loops == null || !loops.hasFree())) {
      String inUse = loops == null ? "unknown" : loops.summary() + " in use";
      return refuse(
          Reasons.LOOP_DEVICES_EXHAUSTED,
          "no free loop device (" + inUse + ")",
          "Dom0Node " + name + " has no free loop device (" + inUse + ")");
    }
    return Optional.empty();
  }

  /**
   * Capacity ({@code ratio x capacity - committed >= need}) and the namespace's ceiling: for
   * placements and grows.
   */
  static Optional<Refusal> room(Dom0Node node, Need need, Ledger ledger) {
    String name = node.getMetadata().getName();
    long left = left(node, ledger);
    if (left < need.unpromised()) {
      return refuse(
          Reasons.INSUFFICIENT_STORAGE,
          Sizes.human(Math.max(0, left)) + " left to promise",
          "Dom0Node "
              + name
              + " has "
              + Sizes.human(Math.max(0, left))
              + " left to promise (overcommitRatio "
              + ratioText(node)
              + " x capacity "
              + Sizes.human(capacity(node))
              + " - "
              + Sizes.human(committed(node, ledger))
              + " promised) and this needs "
              + Sizes.human(need.unpromised()));
    }
    String ceiling = spec(node).maxBytesPerNamespace();
    if (ceiling != null) {
      long max = Ledger.bytes(ceiling);
      long total = Ledger.plus(ledger.namespaceBytes(name, need.namespace()), need.size());
      if (max < 0) {
        return refuse(
            Reasons.QUOTA_EXCEEDED,
            "unreadable spec.maxBytesPerNamespace",
            "Dom0Node "
                + name
                + " has a spec.maxBytesPerNamespace '"
                + ceiling
                + "' that is not a quantity, so nothing more is promised there"
                + " until the cluster admin fixes it");
      }
      if (total > max) {
        return refuse(
            Reasons.QUOTA_EXCEEDED,
            "namespace "
                + need.namespace()
                + " would hold "
                + Sizes.human(total)
                + ", over spec.maxBytesPerNamespace "
                + ceiling,
            "the disks of namespace "
                + need.namespace()
                + " on Dom0Node "
                + name
                + " would total "
                + Sizes.human(total)
                + ", over its spec.maxBytesPerNamespace "
                + ceiling);
      }
    }
    return Optional.empty();
  }

  /** What is left to promise on the node (negative when it is over its bound). */
  static long left(Dom0Node node, Ledger ledger) {
    return Ledger.plus((long) bound(node), -committed(node, ledger));
  }

  static double bound(Dom0Node node) {
    return spec(node).overcommitRatio() * capacity(node);
  }

  static long committed(Dom0Node node, Ledger ledger) {
    return Ledger.plus(promised(node), ledger.pending(node.getMetadata().getName()));
  }

  /**
   * The full message for a node the disk was sent to (by spec.nodeName or by its clone source):
   * what is wrong, and what to change. {@code elsewhere} names the user's way round the node.
   */
  static String explain(Refusal r, String node, String elsewhere) {
    String change =
        switch (r.reason()) {
          case Reasons.NODE_NOT_READY ->
              "the disk is placed there once its agent is Ready again, or " + elsewhere;
          case Reasons.NODE_CORDONED ->
              "ask the cluster admin to uncordon it (kubectl patch dom0node "
                  + node
                  + " --type merge -p '{\"spec\":{\"unschedulable\":false}}') or "
                  + elsewhere;
          case Reasons.NAMESPACE_NOT_ALLOWED ->
              "ask the cluster admin to add the namespace to its spec.allowedNamespaces, or "
                  + elsewhere;
          case Reasons.LOOP_DEVICES_EXHAUSTED ->
              "building this image mounts it (populate.method LoopMount, xfs, or content"
                  + " copied into a clone): release a loop device on "
                  + node
                  + " (losetup -d) or raise max_loop, use"
                  + " populate.method Offline (ext2/3/4), or "
                  + elsewhere;
          case Reasons.INSUFFICIENT_STORAGE ->
              "free space there (delete disks on "
                  + node
                  + "), ask the cluster admin to raise"
                  + " its spec.overcommitRatio, or "
                  + elsewhere;
          case Reasons.QUOTA_EXCEEDED ->
              "delete disks of the namespace on "
                  + node
                  + ", ask the cluster admin to raise"
                  + " spec.maxBytesPerNamespace, or "
                  + elsewhere;
          default -> elsewhere;
        };
    String separator = r.reason().equals(Reasons.NODE_NOT_READY) ? "; " : ": ";
    return r.detail()
        + separator
        + change
        + "; the disk stays Pending until then and nothing is built";
  }

  /** The message of a refused first build of a placed disk (its spec.size grew after placement). */
  static String explainBuild(Refusal r, String node, String size) {
    String change =
        r.reason().equals(Reasons.QUOTA_EXCEEDED)
            ? "delete disks of the namespace on "
                + node
                + " or ask the cluster admin to raise spec.maxBytesPerNamespace"
            : "free space on "
                + node
                + " (delete disks there) or ask the cluster admin to raise its spec.overcommitRatio";
    return "building the image at spec.size "
        + size
        + " is refused: "
        + r.detail()
        + "; nothing is built until you "
        + change
        + ", or recreate the VirtualDisk smaller";
  }

  /** The message of a refused grow: the image stays as it is, and usable. */
  static String explainGrow(Refusal r, String node, String from, String to) {
    String change =
        r.reason().equals(Reasons.QUOTA_EXCEEDED)
            ? "delete disks of the namespace on "
                + node
                + " or ask the cluster admin to raise spec.maxBytesPerNamespace"
            : "free space on "
                + node
                + " (delete disks there) or ask the cluster admin to raise its spec.overcommitRatio";
    return "growing the image from "
        + from
        + " to "
        + to
        + " is refused: "
        + r.detail()
        + "; the image is untouched and"
        + " stays usable at "
        + from
        + ", and the grow goes ahead by itself once you "
        + change;
  }

  private static Optional<Refusal> refuse(String reason, String problem, String detail) {
    return Optional.of(new Refusal(reason, problem, detail));
  }

  private static Dom0NodeSpec spec(Dom0Node node) {
    return node.getSpec() == null ? new Dom0NodeSpec(false, 1.0) : node.getSpec();
  }

  private static String ratioText(Dom0Node node) {
    return BigDecimal.valueOf(spec(node).overcommitRatio()).stripTrailingZeros().toPlainString();
  }

  private static long capacity(Dom0Node node) {
    Dom0NodeStatus.Storage s = node.getStatus() == null ? null : node.getStatus().storage();
    return s == null || s.capacityBytes() == null ? 0 : Math.max(0, s.capacityBytes());
  }

  private static long promised(Dom0Node node) {
    Dom0NodeStatus.Storage s = node.getStatus() == null ? null : node.getStatus().storage();
    return s == null || s.promisedBytes() == null ? 0 : Math.max(0, s.promisedBytes());
  }
}
