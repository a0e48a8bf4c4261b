package io.xenvbd.operator;

import io.fabric8.kubernetes.api.model.Condition;
import io.xenvbd.api.Conditions;
import io.xenvbd.api.Reasons;
import io.xenvbd.api.Sizes;
import io.xenvbd.api.VirtualDisk;
import io.xenvbd.api.VirtualDiskStatus;
import java.util.Objects;
import java.util.Optional;
import java.util.Set;

/**
 * Turns a status transition into the events a user reads in kubectl describe. Deriving them from
 * the old and new status (not from where the code happens to be) makes them fire once per
 * transition, however often a reconcile repeats.
 */
final class DiskEvents {
  /**
   * Ready and Resized reasons that mean "working on it" or "done", not a problem worth a Warning.
   */
  private static final Set<String> PROGRESS =
      Set.of(Reasons.PROVISIONING, Reasons.RESIZING, Reasons.RESIZED, Reasons.READY);

  private final EventRecorder recorder;

  DiskEvents(EventRecorder recorder) {
    this.recorder = recorder;
  }

  void transition(VirtualDisk disk, VirtualDiskStatus old, VirtualDiskStatus now) {
    VirtualDiskStatus before = old == null ? VirtualDiskStatus.empty() : old;
    if (before.nodeName() == null && now.nodeName() != null) {
      recorder.normal(disk, "Scheduled", message(now, Conditions.SCHEDULED));
    }
    if (now.phase() == VirtualDiskStatus.Phase.Provisioning
        && before.phase() != VirtualDiskStatus.Phase.Provisioning) {
      boolean grow =
          Conditions.find(now.conditions(), Conditions.READY)
              .map(r -> Reasons.RESIZING.equals(r.getReason()))
              .orElse(false);
      String stage = message(now, Conditions.READY);
      recorder.normal(
          disk,
          grow ? Reasons.RESIZE_STARTED : Reasons.PROVISIONING_STARTED,
          "agent on "
              + now.nodeName()
              + ": "
              + (grow && before.capacityBytes() != null
                  ? "growing the image from "
                      + Sizes.human(before.capacityBytes())
                      + " to "
                      + disk.getSpec().size()
                      + " ("
                      + stage
                      + ")"
                  : stage));
    }
    if (!Conditions.isTrue(before.conditions(), Conditions.PROVISIONED)
        && Conditions.isTrue(now.conditions(), Conditions.PROVISIONED)) {
      recorder.normal(
          disk,
          Reasons.PROVISIONED,
          "image "
              + now.path()
              + " on "
              + now.nodeName()
              + ": "
              + (now.capacityBytes() == null
                  ? "size not reported yet"
                  : Sizes.human(now.capacityBytes()))
              + (now.allocated() == null ? "" : ", " + now.allocated() + " allocated")
              + (now.xen() == null ? "" : ", " + now.xen().disk()));
    } else if (before.capacityBytes() != null
        && now.capacityBytes() != null
        && now.capacityBytes() > before.capacityBytes()) {
      recorder.normal(
          disk,
          Reasons.RESIZED,
          "image grown from "
              + Sizes.human(before.capacityBytes())
              + " to "
              + Sizes.human(now.capacityBytes()));
    }
    warnOnProblem(disk, before, now, Conditions.READY);
    // a refused grow leaves Ready True: its warning comes from Resized
    warnOnProblem(disk, before, now, Conditions.RESIZED);
  }

  private void warnOnProblem(
      VirtualDisk disk, VirtualDiskStatus before, VirtualDiskStatus now, String type) {
    Optional<Condition> was = Conditions.find(before.conditions(), type);
    Optional<Condition> is = Conditions.find(now.conditions(), type);
    if (is.isPresent()
        && !PROGRESS.contains(is.get().getReason())
        && (was.isEmpty()
            || !Objects.equals(was.get().getReason(), is.get().getReason())
            || !Objects.equals(was.get().getMessage(), is.get().getMessage()))) {
      recorder.warning(disk, is.get().getReason(), is.get().getMessage());
    }
  }

  private static String message(VirtualDiskStatus s, String type) {
    return Conditions.find(s.conditions(), type).map(Condition::getMessage).orElse("");
  }
}
