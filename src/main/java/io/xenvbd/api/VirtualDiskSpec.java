package io.xenvbd.api;

import com.fasterxml.jackson.annotation.JsonIgnoreProperties;
import com.fasterxml.jackson.annotation.JsonInclude;
import com.fasterxml.jackson.annotation.JsonPropertyDescription;
import io.fabric8.generator.annotation.Default;
import io.fabric8.generator.annotation.Pattern;
import io.fabric8.generator.annotation.Required;
import io.fabric8.generator.annotation.Size;
import io.fabric8.generator.annotation.ValidationRule;

/**
 * What the user asks for. Defaults are declared in the schema (so a real API server fills them in)
 * and repeated in the compact constructor (so code that reads a spec from a server that does not
 * default, or from a test, sees the same values).
 */
@JsonIgnoreProperties(ignoreUnknown = true)
@JsonInclude(JsonInclude.Include.NON_NULL)
@ValidationRule(
    value = "!has(oldSelf.size) || !quantity(self.size).isLessThan(quantity(oldSelf.size))",
    message = "spec.size may grow but never shrink: set it to at least the current size")
@ValidationRule(
    value = "!has(oldSelf.filesystem) || self.filesystem == oldSelf.filesystem",
    message = "spec.filesystem is immutable: create a new VirtualDisk to change the filesystem")
// Build-time only (Validation.BUILD_TIME_FIELDS): whole values compared, so the rule stays cheap
// for the API server's cost estimate; has() on both sides makes adding or removing one a change.
@ValidationRule(
    value =
        "has(self.populate) == has(oldSelf.populate) && (!has(self.populate) || self.populate == oldSelf.populate)",
    message = Validation.POPULATE_BUILD_TIME)
@ValidationRule(
    value =
        "has(self.tailor) == has(oldSelf.tailor) && (!has(self.tailor) || self.tailor == oldSelf.tailor)",
    message = Validation.TAILOR_BUILD_TIME)
@ValidationRule(
    value =
        "has(self.preallocate) == has(oldSelf.preallocate) && (!has(self.preallocate) || self.preallocate == oldSelf.preallocate)",
    message = Validation.PREALLOCATE_BUILD_TIME)
@ValidationRule(
    value =
        "!has(oldSelf.nodeName) || oldSelf.nodeName == '' || (has(self.nodeName) && self.nodeName == oldSelf.nodeName)",
    message = "spec.nodeName is immutable once set: an image cannot move between nodes")
@ValidationRule(
    value =
        "!has(self.size) || !isQuantity(self.size) || sign(quantity(self.size)) != 1 || !has(self.filesystem) || self.filesystem != 'xfs'"
            + " || !quantity(self.size).isLessThan(quantity('"
            + Validation.XFS_MIN_SIZE
            + "'))",
    message = Validation.XFS_TOO_SMALL)
@ValidationRule(
    value =
        "!has(self.size) || !isQuantity(self.size) || sign(quantity(self.size)) != 1"
            + " || (has(self.filesystem) && !(self.filesystem in ['ext3', 'ext4']))"
            + " || !quantity(self.size).isLessThan(quantity('"
            + Validation.EXT_JOURNAL_MIN_SIZE
            + "'))",
    message = Validation.EXT_JOURNAL_TOO_SMALL)
@ValidationRule(
    value =
        "!has(self.size) || !isQuantity(self.size) || sign(quantity(self.size)) != 1 || !has(self.filesystem) || self.filesystem != 'ext2'"
            + " || !quantity(self.size).isLessThan(quantity('"
            + Validation.EXT2_MIN_SIZE
            + "'))",
    message = Validation.EXT2_TOO_SMALL)
public record VirtualDiskSpec(
    @JsonPropertyDescription(
            "Name of the dom0 node (its Dom0Node) to put the image on. Empty: the operator chooses the least committed node that has room and a free loop device. Immutable once set.")
        @Pattern(Validation.NODE_NAME)
        @Size(max = Validation.MAX_NAME)
        String nodeName,
    @JsonPropertyDescription(
            "Apparent size of the image as a Kubernetes quantity, e.g. 2Gi. The file is sparse: it occupies only what is written. May grow later (the filesystem is grown too), never shrink. At least 300Mi for xfs, 2Mi for ext3 and ext4, 128Ki for ext2.")
        @Required
        @Pattern(Validation.POSITIVE_QUANTITY)
        @Size(max = Validation.MAX_SIZE_TEXT)
        String size,
    @JsonPropertyDescription(
            "Filesystem to create in the image: ext2, ext3, ext4, xfs, or none for a raw, unformatted image. Immutable.")
        @Default("ext4")
        Filesystem filesystem,
    @JsonPropertyDescription(
            "What to copy into the new filesystem, and how. Ignored for filesystem none except cloneFrom. Build-time only: cannot change once the VirtualDisk exists.")
        Populate populate,
    @JsonPropertyDescription(
            "Files the manual recipe edits by hand, written into the image (never into dom0): hostname, fstab and any extra files. Build-time only: cannot change once the VirtualDisk exists.")
        Tailor tailor,
    @JsonPropertyDescription("How the guest sees the disk: the fields of its xl disk= entry.")
        Xen xen,
    @JsonPropertyDescription(
            "false (default): the image is sparse and costs only what is written. true: every block is allocated up front with fallocate, for admins who refuse to overcommit storage. Build-time only: cannot change once the VirtualDisk exists.")
        @Default("false")
        Boolean preallocate,
    @JsonPropertyDescription(
            "What happens to the image when the VirtualDisk is deleted: Delete removes it from the node, Retain keeps it, marked released with its former owner's namespace, name and uid: its Dom0Node lists it in status.released, and a new VirtualDisk of the same namespace can take it back with spec.populate.adopt.")
        @Default("Delete")
        ReclaimPolicy reclaimPolicy) {

  public VirtualDiskSpec {
    if (filesystem == null) filesystem = Filesystem.ext4;
    if (xen == null) xen = new Xen(null, null, null);
    if (preallocate == null) preallocate = Boolean.FALSE;
    if (reclaimPolicy == null) reclaimPolicy = ReclaimPolicy.Delete;
  }

  public enum Filesystem {
    ext2,
    ext3,
    ext4,
    xfs,
    none
  }

  public enum ReclaimPolicy {
    Delete,
    Retain
  }
}
