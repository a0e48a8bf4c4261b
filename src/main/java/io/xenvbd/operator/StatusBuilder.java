package io.xenvbd.operator;

import io.fabric8.kubernetes.api.model.Condition;
import io.xenvbd.api.Conditions;
import io.xenvbd.api.Dom0Node;
import io.xenvbd.api.LoopDevices;
import io.xenvbd.api.Reasons;
import io.xenvbd.api.Sizes;
import io.xenvbd.api.VirtualDisk;
import io.xenvbd.api.VirtualDiskStatus;
import io.xenvbd.api.VirtualDiskStatus.Phase;
import io.xenvbd.api.XenEntries;
import io.xenvbd.protocol.DiskState;
import java.time.Clock;
import java.util.List;

/**
 * Builds the whole VirtualDiskStatus from the previous status and one step's outcome. Facts about
 * the image (path, sizes, UUID) are kept from the previous status until the agent reports new ones,
 * so an unreachable node does not blank them. The Xen lines are derived from the path and the
 * current spec.xen, so they follow a vdev or access change and never show an agent's stale view.
 * Conditions keep lastTransitionTime when their status did not flip, so rebuilding an unchanged
 * state gives an equal status and no patch.
 */
final class StatusBuilder {
  private final Clock clock;

  StatusBuilder(Clock clock) {
    this.clock = clock;
  }

  VirtualDiskStatus build(VirtualDisk disk, String nodeName, Dom0Node node, Outcome outcome) {
    VirtualDiskStatus old = disk.getStatus() == null ? VirtualDiskStatus.empty() : disk.getStatus();
    Long gen = disk.getMetadata().getGeneration();
    Image image = Image.of(old);
    VirtualDiskStatus.Clone cloned = old.cloned();
    VirtualDiskStatus.Progress progress = null;
    if (outcome instanceof Outcome.Done done) {
      image = Image.of(done.state());
      if (done.state().cloned() != null) cloned = clone(done.state().cloned());
    } else if (outcome instanceof Outcome.GrowRefused refused) {
      image = Image.of(refused.state());
    } else if (outcome instanceof Outcome.Working w) {
      DiskState s = w.state();
      progress =
          new VirtualDiskStatus.Progress(s.stage(), s.percent(), s.bytesDone(), s.bytesTotal());
      if (image.path() == null) image = new Image(s.path(), null, null, null);
    }
    boolean imageExists = image.capacityBytes() != null;
    List<Condition> c = old.conditions();
    c = set(c, Conditions.SCHEDULED, scheduled(nodeName, outcome), gen);
    c = set(c, Conditions.PROVISIONED, provisioned(outcome, imageExists, old), gen);
    Cond resized = resized(outcome, old, image);
    if (resized != null) c = set(c, Conditions.RESIZED, resized, gen);
    c = set(c, Conditions.LOOP_DEVICE_AVAILABLE, loop(node), gen);
    // status.observedGeneration is the newest generation the image realises: only a finished build
    // or grow of this generation's spec advances it. Ready=True carries it; Ready=False and Unknown
    // carry the generation they judged.
    Long realised = outcome instanceof Outcome.Done ? gen : old.observedGeneration();
    Cond ready = ready(outcome, nodeName, image);
    Long readyGen = gen;
    if (outcome instanceof Outcome.GrowRefused refused) {
      if (realised != null) {
        readyGen = realised;
      } else {
        ready =
            new Cond(
                Conditions.FALSE,
                refused.reason(),
                "image of "
                    + human(image.capacityBytes())
                    + " usable on dom0 node "
                    + nodeName
                    + " at "
                    + image.path()
                    + ", not grown to spec.size: "
                    + refused.message());
      }
    }
    c = set(c, Conditions.READY, ready, readyGen);
    LoopDevices loops =
        node == null || node.getStatus() == null || node.getStatus().loopDevices() == null
            ? old.loopDevices()
            : node.getStatus().loopDevices().withoutDevices();
    VirtualDiskStatus.XenStatus xen =
        !imageExists || image.path() == null
            ? null
            : new VirtualDiskStatus.XenStatus(
                XenEntries.keyword(image.path(), disk.getSpec().xen()),
                XenEntries.legacy(image.path(), disk.getSpec().xen()));
    return new VirtualDiskStatus(
        phase(outcome, old),
        realised,
        nodeName,
        image.path(),
        image.capacityBytes(),
        image.allocatedBytes(),
        image.allocatedBytes() == null ? null : Sizes.human(image.allocatedBytes()),
        image.filesystemUUID(),
        filesystem(disk, old, nodeName),
        progress,
        xen,
        loops,
        c,
        cloned);
  }

  /**
   * The agent's account of how a clone was copied; a method this operator does not know is left
   * out.
   */
  static VirtualDiskStatus.Clone clone(DiskState.Cloned wire) {
    for (VirtualDiskStatus.CloneMethod m : VirtualDiskStatus.CloneMethod.values()) {
      if (m.name().equals(wire.method())) return new VirtualDiskStatus.Clone(m, wire.sharedBytes());
    }
    return null;
  }

  /**
   * Recorded with the placement and never changed after: what the image is (or will be) built with,
   * which SpecValidator holds spec.filesystem to. A disk placed by an operator that recorded it in
   * the {@code xenvbd.io/filesystem} annotation keeps that value.
   */
  static String filesystem(VirtualDisk disk, VirtualDiskStatus old, String nodeName) {
    if (old.filesystem() != null) return old.filesystem();
    if (nodeName == null) return null;
    var annotations = disk.getMetadata().getAnnotations();
    String legacy =
        annotations == null ? null : annotations.get(SpecValidator.FILESYSTEM_ANNOTATION);
    return legacy != null ? legacy : disk.getSpec().filesystem().name();
  }

  private record Cond(String status, String reason, String message) {}

  private record Image(
      String path, Long capacityBytes, Long allocatedBytes, String filesystemUUID) {
    static Image of(VirtualDiskStatus s) {
      return new Image(s.path(), s.capacityBytes(), s.allocatedBytes(), s.filesystemUUID());
    }

    static Image of(DiskState s) {
      return new Image(s.path(), s.capacityBytes(), s.allocatedBytes(), s.filesystemUUID());
    }
  }

  private static Cond scheduled(String nodeName, Outcome o) {
    if (nodeName != null)
      return new Cond(Conditions.TRUE, Reasons.NODE_ASSIGNED, "placed on dom0 node " + nodeName);
    if (o instanceof Outcome.Unschedulable u)
      return new Cond(Conditions.FALSE, u.reason(), u.message());
    if (o instanceof Outcome.Invalid i)
      return new Cond(Conditions.FALSE, i.reason(), "not placed: " + i.message());
    return new Cond(Conditions.FALSE, Reasons.WAITING_FOR_NODE, "not placed yet");
  }

  private static Cond provisioned(Outcome o, boolean imageExists, VirtualDiskStatus old) {
    if (o instanceof Outcome.Done d) {
      return new Cond(Conditions.TRUE, Reasons.PROVISIONED, "image built at " + d.state().path());
    }
    if (o instanceof Outcome.GrowRefused g) {
      return new Cond(Conditions.TRUE, Reasons.PROVISIONED, "image built at " + g.state().path());
    }
    if (o instanceof Outcome.Working w && w.state().phase() == DiskState.Phase.Resizing) {
      return new Cond(
          Conditions.TRUE,
          Reasons.RESIZING,
          "image exists; growing it to " + human(w.state().capacityBytes()));
    }
    if (o instanceof Outcome.Working w) {
      return new Cond(
          Conditions.FALSE,
          Reasons.PROVISIONING,
          "the agent is building the image: " + stage(w.state()));
    }
    if (imageExists) {
      var kept = Conditions.find(old.conditions(), Conditions.PROVISIONED);
      if (kept.isPresent())
        return new Cond(kept.get().getStatus(), kept.get().getReason(), kept.get().getMessage());
      return new Cond(Conditions.TRUE, Reasons.PROVISIONED, "image exists");
    }
    if (o instanceof Outcome.Failed f)
      return new Cond(Conditions.FALSE, Reasons.PROVISIONING_FAILED, f.message());
    if (o instanceof Outcome.Incompatible i)
      return new Cond(Conditions.FALSE, i.reason(), i.message());
    if (o instanceof Outcome.Invalid i)
      return new Cond(Conditions.FALSE, i.reason(), "not built: " + i.message());
    if (o instanceof Outcome.Unreachable u)
      return new Cond(Conditions.UNKNOWN, u.reason(), u.message());
    return new Cond(
        Conditions.FALSE, Reasons.WAITING_FOR_NODE, "waiting for the disk to be placed and built");
  }

  /**
   * Present from the first grow on (as a PersistentVolumeClaim's resize conditions are): False
   * while the image grows or when the grow is refused, True once the image has spec.size. Null:
   * unchanged.
   */
  private static Cond resized(Outcome o, VirtualDiskStatus old, Image image) {
    if (o instanceof Outcome.GrowRefused g)
      return new Cond(Conditions.FALSE, g.reason(), g.message());
    if (o instanceof Outcome.Working w && w.state().phase() == DiskState.Phase.Resizing) {
      return new Cond(
          Conditions.FALSE,
          Reasons.RESIZING,
          "growing the image to " + human(w.state().capacityBytes()));
    }
    boolean grown =
        old.capacityBytes() != null
            && image.capacityBytes() != null
            && image.capacityBytes() > old.capacityBytes();
    if (o instanceof Outcome.Done
        && (grown || Conditions.find(old.conditions(), Conditions.RESIZED).isPresent())) {
      return new Cond(
          Conditions.TRUE,
          Reasons.RESIZED,
          "the image has the " + human(image.capacityBytes()) + " spec.size asks");
    }
    return null;
  }

  /**
   * The LoopDeviceAvailable status (True, False, Unknown) the node's current status gives its
   * disks.
   */
  static String loopStatus(Dom0Node node) {
    return loop(node).status();
  }

  private static Cond loop(Dom0Node node) {
    LoopDevices l =
        node == null || node.getStatus() == null ? null : node.getStatus().loopDevices();
    if (l == null)
      return new Cond(
          Conditions.UNKNOWN,
          Reasons.WAITING_FOR_NODE,
          "the node's loop devices are not known yet");
    if (l.hasFree()) {
      String free =
          Boolean.TRUE.equals(l.unlimited())
              ? "the kernel creates loop devices on demand"
              : l.available() + " of " + l.max() + " free";
      return new Cond(
          Conditions.TRUE,
          Reasons.LOOP_DEVICE_FREE,
          "a guest using this disk can attach it: " + free);
    }
    return new Cond(
        Conditions.FALSE,
        Reasons.LOOP_DEVICES_EXHAUSTED,
        "all "
            + l.max()
            + " loop devices of the node"
            + " are in use: a guest using this disk cannot start until one is released (or max_loop is raised)");
  }

  private static Cond ready(Outcome o, String nodeName, Image image) {
    if (o instanceof Outcome.Done) {
      return new Cond(
          Conditions.TRUE,
          Reasons.READY,
          "image of "
              + human(image.capacityBytes())
              + " ready on dom0 node "
              + nodeName
              + " at "
              + image.path());
    }
    if (o instanceof Outcome.GrowRefused) {
      // usable as it is: kubectl wait --for=condition=Ready goes on working; the Resized condition
      // says why not grown
      return new Cond(
          Conditions.TRUE,
          Reasons.READY,
          "image of "
              + human(image.capacityBytes())
              + " ready on dom0 node "
              + nodeName
              + " at "
              + image.path()
              + "; not grown to spec.size (see condition Resized)");
    }
    if (o instanceof Outcome.Working w) {
      return new Cond(
          Conditions.FALSE,
          w.state().phase() == DiskState.Phase.Resizing ? Reasons.RESIZING : Reasons.PROVISIONING,
          stage(w.state()));
    }
    if (o instanceof Outcome.Placed p) {
      return new Cond(
          Conditions.FALSE,
          Reasons.PROVISIONING,
          p.message() + "; asking its agent to build the image");
    }
    if (o instanceof Outcome.Failed f)
      return new Cond(Conditions.FALSE, Reasons.PROVISIONING_FAILED, f.code() + ": " + f.message());
    if (o instanceof Outcome.Incompatible i)
      return new Cond(Conditions.FALSE, i.reason(), i.message());
    if (o instanceof Outcome.Invalid i) return new Cond(Conditions.FALSE, i.reason(), i.message());
    if (o instanceof Outcome.Unschedulable u)
      return new Cond(Conditions.FALSE, u.reason(), u.message());
    if (o instanceof Outcome.Unreachable u)
      return new Cond(Conditions.UNKNOWN, u.reason(), u.message());
    Outcome.Blocked b = (Outcome.Blocked) o;
    return new Cond(Conditions.FALSE, Reasons.DELETION_BLOCKED, b.cause() + ": " + b.message());
  }

  private static Phase phase(Outcome o, VirtualDiskStatus old) {
    if (o instanceof Outcome.Done || o instanceof Outcome.GrowRefused) return Phase.Ready;
    if (o instanceof Outcome.Working) return Phase.Provisioning;
    if (o instanceof Outcome.Failed) return Phase.Failed;
    if (o instanceof Outcome.Invalid i)
      return Reasons.INVALID_SPEC.equals(i.reason()) ? Phase.Failed : Phase.Pending;
    if (o instanceof Outcome.Blocked) return Phase.Deleting;
    if (o instanceof Outcome.Unreachable || o instanceof Outcome.Incompatible)
      return old.phase() == null ? Phase.Pending : old.phase();
    return Phase.Pending; // Unschedulable, Placed
  }

  private List<Condition> set(List<Condition> list, String type, Cond c, Long gen) {
    return Conditions.set(list, type, c.status(), c.reason(), c.message(), gen, clock);
  }

  private static String stage(DiskState s) {
    String stage = s.stage() == null ? "starting" : s.stage();
    return s.percent() == null ? stage : stage + " " + s.percent() + "%";
  }

  private static String human(Long bytes) {
    return bytes == null ? "?" : Sizes.human(bytes);
  }
}
