package io.xenvbd.operator;

import io.xenvbd.api.Conditions;
import io.xenvbd.api.Populate;
import io.xenvbd.api.Reasons;
import io.xenvbd.api.Sizes;
import io.xenvbd.api.SpecRules;
import io.xenvbd.api.VirtualDisk;
import io.xenvbd.api.VirtualDiskSpec;
import io.xenvbd.api.VirtualDiskStatus;
import java.util.Map;
import java.util.Objects;
import java.util.Optional;

/**
 * The spec's own rules ({@link SpecRules}, which the agent applies too: not every API server we run
 * on enforces the CRD's schema, and the agent must not depend on us), and what only the operator
 * can check: transitions against what was built, and the cloneFrom source.
 */
final class SpecValidator {
  /**
   * Where operators before status.filesystem recorded the filesystem at placement; still read for
   * disks they placed, never written.
   */
  static final String FILESYSTEM_ANNOTATION = "xenvbd.io/filesystem";

  private final ClusterView cluster;

  SpecValidator(ClusterView cluster) {
    this.cluster = cluster;
  }

  /** Empty when the spec may be acted on. */
  Optional<Outcome.Invalid> validate(VirtualDisk disk) {
    VirtualDiskSpec spec = disk.getSpec();
    // A built disk hears first that it cannot become something else; every other fix comes after
    // that.
    Optional<Outcome.Invalid> transition =
        spec == null ? Optional.empty() : validateTransition(disk, spec);
    if (transition.isPresent()) return transition;
    Optional<String> broken =
        SpecRules.violation(disk.getMetadata().getNamespace(), disk.getMetadata().getName(), spec);
    if (broken.isPresent()) return invalid(broken.get());
    return spec.populate() == null || spec.populate().cloneFrom() == null
        ? Optional.empty()
        : validateClone(disk, spec.populate());
  }

  private Optional<Outcome.Invalid> validateTransition(VirtualDisk disk, VirtualDiskSpec spec) {
    VirtualDiskStatus status = disk.getStatus();
    if (status != null && status.capacityBytes() != null) {
      long size = bytesOrMax(spec.size());
      if (size < status.capacityBytes()) {
        return invalid(
            "spec.size "
                + spec.size()
                + " is smaller than the image's current size "
                + Sizes.human(status.capacityBytes())
                + ": disks grow but never shrink; set spec.size to at least "
                + Sizes.human(status.capacityBytes())
                + " (the image was not touched)");
      }
    }
    String built =
        status != null && status.filesystem() != null
            ? status.filesystem()
            : annotations(disk).get(FILESYSTEM_ANNOTATION);
    if (built != null && !built.equals(spec.filesystem().name())) {
      return invalid(
          "spec.filesystem is immutable: the image was built with "
              + built
              + ", the spec now says "
              + spec.filesystem()
              + "; set it back to "
              + built
              + " or create a new VirtualDisk");
    }
    String wanted = spec.nodeName();
    if (wanted != null
        && !wanted.isEmpty()
        && status != null
        && status.nodeName() != null
        && !status.nodeName().equals(wanted)) {
      return invalid(
          "spec.nodeName is immutable once the disk is placed: the image is on "
              + status.nodeName()
              + "; set spec.nodeName back to "
              + status.nodeName()
              + " (or empty)");
    }
    return Optional.empty();
  }

  /** A size that does not parse is not a shrink: {@link SpecRules} reports it. */
  private static long bytesOrMax(String size) {
    try {
      return Sizes.bytes(size);
    } catch (IllegalArgumentException e) {
      return Long.MAX_VALUE;
    }
  }

  private Optional<Outcome.Invalid> validateClone(VirtualDisk disk, Populate populate) {
    String source = populate.cloneFrom().name(); // a valid name, not this disk's: SpecRules checked
    if (disk.getStatus() != null && disk.getStatus().capacityBytes() != null) {
      return Optional.empty(); // already built: the source has done its job and may be gone now
    }
    Optional<VirtualDisk> found = cluster.disk(disk.getMetadata().getNamespace(), source);
    if (found.isEmpty()) {
      return waiting(
          "populate.cloneFrom names VirtualDisk "
              + source
              + ", which does not exist in namespace "
              + disk.getMetadata().getNamespace()
              + ": create it, or delete this VirtualDisk and create it again naming another"
              + " source (spec.populate cannot change)");
    }
    VirtualDiskStatus st = found.get().getStatus();
    if (st == null || !Conditions.isTrue(st.conditions(), Conditions.READY)) {
      return waiting("waiting for VirtualDisk " + source + " (populate.cloneFrom) to become Ready");
    }
    // spec.nodeName may name another node than the source's: the image is streamed there (protocol
    // 5)
    return Optional.empty();
  }

  private static Map<String, String> annotations(VirtualDisk disk) {
    return Objects.requireNonNullElse(disk.getMetadata().getAnnotations(), Map.of());
  }

  private static Optional<Outcome.Invalid> invalid(String message) {
    return Optional.of(new Outcome.Invalid(Reasons.INVALID_SPEC, message));
  }

  private static Optional<Outcome.Invalid> waiting(String message) {
    return Optional.of(new Outcome.Invalid(Reasons.WAITING_FOR_SOURCE, message));
  }
}
