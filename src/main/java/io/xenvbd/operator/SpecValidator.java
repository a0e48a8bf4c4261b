package io.xenvbd.operator;

import io.xenvbd.api.Conditions;
import io.xenvbd.api.Populate;
import io.xenvbd.api.Reasons;
import io.xenvbd.api.Sizes;
import io.xenvbd.api.Validation;
import io.xenvbd.api.VirtualDisk;
import io.xenvbd.api.VirtualDiskSpec;
import io.xenvbd.api.VirtualDiskStatus;
import java.util.Map;
import java.util.Objects;
import java.util.Optional;
import java.util.regex.Pattern;

/**
 * Repeats the CRD's schema and CEL rules (not every API server we run on enforces them) and checks
 * what only the operator can: transitions against what was built, and the cloneFrom source.
 */
final class SpecValidator {
  /**
   * Where operators before status.filesystem recorded the filesystem at placement; still read for
   * disks they placed, never written.
   */
  static final String FILESYSTEM_ANNOTATION = "xenvbd.io/filesystem";

  private static final Pattern SIZE = Pattern.compile(Validation.POSITIVE_QUANTITY);
  private static final Pattern PATH = Pattern.compile(Validation.ABSOLUTE_PATH);
  private static final Pattern NODE = Pattern.compile(Validation.NODE_NAME);
  private static final Pattern NAME = Pattern.compile(Validation.OBJECT_NAME);
  private static final Pattern ARCHIVE = Pattern.compile(Validation.ARCHIVE_SOURCE);
  private static final Pattern SHA256 = Pattern.compile(Validation.SHA256);
  private static final Pattern VDEV = Pattern.compile(Validation.VDEV);

  private final ClusterView cluster;

  SpecValidator(ClusterView cluster) {
    this.cluster = cluster;
  }

  /** Empty when the spec may be acted on. */
  Optional<Outcome.Invalid> validate(VirtualDisk disk) {
    VirtualDiskSpec spec = disk.getSpec();
    if (spec == null) return invalid("spec is missing: give at least spec.size");
    VirtualDiskStatus status = disk.getStatus();
    if (spec.size() == null || !SIZE.matcher(spec.size()).matches()) {
      return invalid("spec.size '" + spec.size() + "' is not a positive quantity: use a form such as 2Gi or 500Mi");
    }
    long size;
    try {
      size = Sizes.bytes(spec.size());
    } catch (IllegalArgumentException e) {
      return invalid(e.getMessage());
    }
    if (status != null && status.capacityBytes() != null && size < status.capacityBytes()) {
      return invalid("spec.size " + spec.size() + " is smaller than the image's current size "
          + Sizes.human(status.capacityBytes()) + ": disks grow but never shrink; set spec.size to at least "
          + Sizes.human(status.capacityBytes()) + " (the image was not touched)");
    }
    String built = status != null && status.filesystem() != null ? status.filesystem()
        : annotations(disk).get(FILESYSTEM_ANNOTATION);
    if (built != null && !built.equals(spec.filesystem().name())) {
      return invalid("spec.filesystem is immutable: the image was built with " + built + ", the spec now says "
          + spec.filesystem() + "; set it back to " + built + " or create a new VirtualDisk");
    }
    if (spec.nodeName() != null && !spec.nodeName().isEmpty()) {
      if (!NODE.matcher(spec.nodeName()).matches()) {
        return invalid("spec.nodeName '" + spec.nodeName() + "' is not a valid node name (RFC 1123 subdomain)");
      }
      if (status != null && status.nodeName() != null && !status.nodeName().equals(spec.nodeName())) {
        return invalid("spec.nodeName is immutable once the disk is placed: the image is on " + status.nodeName()
            + "; set spec.nodeName back to " + status.nodeName() + " (or empty)");
      }
    }
    if (!VDEV.matcher(spec.xen().vdev()).matches()) {
      return invalid("spec.xen.vdev '" + spec.xen().vdev() + "' is not a device xl accepts: use xvda1, xvdb, sda1 ...");
    }
    if (spec.tailor() != null) {
      for (var file : spec.tailor().files()) {
        if (file.path() == null || !cleanPath(file.path())) {
          return invalid("spec.tailor.files path '" + file.path() + "' must be absolute with no . or .. parts");
        }
      }
    }
    return spec.populate() == null ? Optional.empty() : validatePopulate(disk, spec.populate());
  }

  private Optional<Outcome.Invalid> validatePopulate(VirtualDisk disk, Populate populate) {
    for (Populate.HostPath hp : populate.hostPaths()) {
      if (hp.path() == null || !cleanPath(hp.path())) {
        return invalid("populate.hostPaths path '" + hp.path() + "' must be an absolute path with no . or .. parts");
      }
      if (hp.target() != null && !hp.target().isEmpty() && !cleanPath(hp.target())) {
        return invalid("populate.hostPaths target '" + hp.target() + "' must be an absolute path with no . or .. parts");
      }
    }
    for (String dir : populate.createDirs()) {
      if (dir == null || !cleanPath(dir)) {
        return invalid("populate.createDirs entry '" + dir + "' must be an absolute path with no . or .. parts");
      }
    }
    if (populate.archive() != null) {
      var a = populate.archive();
      if (a.source() == null || !ARCHIVE.matcher(a.source()).matches()
          || (a.source().startsWith("/") && !cleanPath(a.source()))) {
        return invalid("populate.archive.source '" + a.source() + "' must be an absolute path on the node or an http(s) URL");
      }
      if (a.sha256() != null && !SHA256.matcher(a.sha256()).matches()) {
        return invalid("populate.archive.sha256 must be 64 lower-case hex digits");
      }
    }
    return populate.cloneFrom() == null ? Optional.empty() : validateClone(disk, populate);
  }

  private Optional<Outcome.Invalid> validateClone(VirtualDisk disk, Populate populate) {
    String source = populate.cloneFrom().name();
    if (populate.archive() != null || !populate.hostPaths().isEmpty()) {
      return invalid("populate.cloneFrom copies a whole image and cannot be combined with archive or hostPaths");
    }
    if (source == null || !NAME.matcher(source).matches()) {
      return invalid("populate.cloneFrom.name '" + source + "' is not a valid object name");
    }
    if (source.equals(disk.getMetadata().getName())) {
      return invalid("populate.cloneFrom names this VirtualDisk itself: name another disk in namespace "
          + disk.getMetadata().getNamespace());
    }
    if (disk.getStatus() != null && disk.getStatus().capacityBytes() != null) {
      return Optional.empty(); // already built: the source has done its job and may be gone now
    }
    Optional<VirtualDisk> found = cluster.disk(disk.getMetadata().getNamespace(), source);
    if (found.isEmpty()) {
      return waiting("populate.cloneFrom names VirtualDisk " + source + ", which does not exist in namespace "
          + disk.getMetadata().getNamespace() + ": create it or fix the name");
    }
    VirtualDiskStatus st = found.get().getStatus();
    if (st == null || !Conditions.isTrue(st.conditions(), Conditions.READY)) {
      return waiting("waiting for VirtualDisk " + source + " (populate.cloneFrom) to become Ready");
    }
    String wanted = disk.getSpec().nodeName();
    if (wanted != null && !wanted.isEmpty() && !wanted.equals(st.nodeName())) {
      return invalid("populate.cloneFrom source " + source + " is on node " + st.nodeName()
          + " but spec.nodeName is " + wanted + ": a clone is made on its source's node; set spec.nodeName to "
          + st.nodeName() + " or leave it empty");
    }
    return Optional.empty();
  }

  static boolean cleanPath(String path) {
    if (!PATH.matcher(path).matches()) return false;
    for (String part : path.split("/")) {
      if (part.equals(".") || part.equals("..")) return false;
    }
    return true;
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
