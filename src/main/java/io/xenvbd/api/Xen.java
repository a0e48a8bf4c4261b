package io.xenvbd.api;

import com.fasterxml.jackson.annotation.JsonIgnoreProperties;
import com.fasterxml.jackson.annotation.JsonInclude;
import com.fasterxml.jackson.annotation.JsonPropertyDescription;
import io.fabric8.generator.annotation.Default;
import io.fabric8.generator.annotation.Pattern;

/** The guest's view of the disk: the fields of its xl disk= entry (xl-disk-configuration(5)). */
@JsonIgnoreProperties(ignoreUnknown = true)
@JsonInclude(JsonInclude.Include.NON_NULL)
public record Xen(
    @JsonPropertyDescription(
            "Virtual device the guest sees, e.g. xvda1 (default), xvdb, sda1. blkfront names every disk /dev/xvd*, so prefer fstab by UUID (device: self).")
        @Default("xvda1")
        @Pattern(Validation.VDEV)
        String vdev,
    @JsonPropertyDescription("rw (default) or ro.") @Default("rw") Access access,
    @JsonPropertyDescription("Optional backend type: phy, tap or qdisk. Unset: xl chooses.")
        BackendType backendType) {

  public Xen {
    if (vdev == null) vdev = "xvda1";
    if (access == null) access = Access.rw;
  }

  public enum Access {
    rw,
    ro
  }

  public enum BackendType {
    phy,
    tap,
    qdisk
  }
}
