package io.xenvbd.api;

import com.fasterxml.jackson.annotation.JsonIgnoreProperties;
import com.fasterxml.jackson.annotation.JsonInclude;
import com.fasterxml.jackson.annotation.JsonPropertyDescription;
import io.fabric8.generator.annotation.Default;
import io.fabric8.generator.annotation.Min;
import io.fabric8.generator.annotation.Pattern;
import io.fabric8.generator.annotation.Size;
import java.util.List;
import java.util.Objects;

/**
 * What an admin sets on a node. The agent creates the object and never changes its spec after that.
 * Every rule here bounds new placements (and, for the two byte bounds, grows); none moves or
 * rebuilds a disk that is already on the node.
 */
@JsonIgnoreProperties(ignoreUnknown = true)
@JsonInclude(JsonInclude.Include.NON_NULL)
public record Dom0NodeSpec(
    @JsonPropertyDescription(
            "true cordons the node: the operator places no new disks on it, whether it chooses the node or spec.nodeName names it. Disks already placed on it stay, and are still built, grown and deleted.")
        @Default("false")
        Boolean unschedulable,
    @JsonPropertyDescription(
            "How far apparent sizes may exceed the images root's capacity: a disk is placed, or grown, only where overcommitRatio x capacity - promised apparent sizes >= what it needs. 1.0 (default) never promises more than the disk has.")
        @Default("1.0")
        @Min(0.1)
        Double overcommitRatio,
    @JsonPropertyDescription(
            "Namespaces whose VirtualDisks may be placed on this node (names, not patterns). Empty or absent: every namespace. Disks already on the node are not affected by a later change.")
        @Size(max = MAX_ALLOWED_NAMESPACES)
        List<@Pattern(NAMESPACE_NAME) String> allowedNamespaces,
    @JsonPropertyDescription(
            "Most bytes one namespace may promise on this node, as a quantity (e.g. 500Gi): the spec.size of all its VirtualDisks here together, a new one or a grow included, may not exceed it. Absent: no ceiling beyond the node's own.")
        @Pattern(Validation.POSITIVE_QUANTITY)
        String maxBytesPerNamespace,
    @JsonPropertyDescription(
            "true drains the node: it is cordoned (no new disks, as with unschedulable) and the operator moves every disk on it to another node, data and all: copied over the agents' TLS with its checksum checked, switched there (status.nodeName, path, xen) and only then deleted here. A disk waits while a guest, a loop device, a mount or a process holds its image (its Moved condition names the holder to stop), and a disk whose spec.nodeName names this node is not moved (pinned). Condition Drained says how many disks are left and why. false (default) stops moving; disks already moved stay where they are.")
        @Default("false")
        Boolean drain) {

  /** A namespace name: an RFC 1123 label. */
  public static final String NAMESPACE_NAME = Validation.DNS1123_LABEL;

  public static final int MAX_ALLOWED_NAMESPACES = 256;

  public Dom0NodeSpec {
    if (unschedulable == null) unschedulable = Boolean.FALSE;
    if (drain == null) drain = Boolean.FALSE;
    if (overcommitRatio == null) overcommitRatio = 1.0;
    allowedNamespaces =
        allowedNamespaces == null || allowedNamespaces.isEmpty()
            ? null
            : allowedNamespaces.stream().filter(Objects::nonNull).toList();
  }

  /** Cordon and overcommit only, every namespace allowed, no per-namespace ceiling. */
  public Dom0NodeSpec(Boolean unschedulable, Double overcommitRatio) {
    this(unschedulable, overcommitRatio, null, null, null);
  }

  /** A node that is not draining. */
  public Dom0NodeSpec(
      Boolean unschedulable,
      Double overcommitRatio,
      List<String> allowedNamespaces,
      String maxBytesPerNamespace) {
    this(unschedulable, overcommitRatio, allowedNamespaces, maxBytesPerNamespace, null);
  }

  /** Whether the admin drains the node (which cordons it too). */
  public boolean draining() {
    return Boolean.TRUE.equals(drain);
  }

  /** Whether disks of this namespace may be placed here. */
  public boolean allows(String namespace) {
    return allowedNamespaces == null || allowedNamespaces.contains(namespace);
  }
}
