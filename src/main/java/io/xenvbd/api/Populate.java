package io.xenvbd.api;

import com.fasterxml.jackson.annotation.JsonIgnoreProperties;
import com.fasterxml.jackson.annotation.JsonInclude;
import com.fasterxml.jackson.annotation.JsonPropertyDescription;
import io.fabric8.generator.annotation.Default;
import io.fabric8.generator.annotation.Pattern;
import io.fabric8.generator.annotation.Required;
import io.fabric8.generator.annotation.Size;
import io.fabric8.generator.annotation.ValidationRule;
import java.util.List;

/** Sources copied into a new image, in this order: cloneFrom, archive, hostPaths, createDirs. */
@JsonIgnoreProperties(ignoreUnknown = true)
@JsonInclude(JsonInclude.Include.NON_NULL)
@ValidationRule(value = "!has(self.cloneFrom) || (!has(self.archive) && (!has(self.hostPaths) || size(self.hostPaths) == 0))",
    message = Validation.CLONE_EXCLUSIVE)
public record Populate(
    @JsonPropertyDescription("dom0 directories copied into the image the way cp -ax does: one filesystem, keeping owners, modes, times, hard and symbolic links, device nodes, extended attributes and holes. Only from paths the node agent's admin allows.")
    @Size(max = Validation.MAX_HOST_PATHS)
    List<HostPath> hostPaths,

    @JsonPropertyDescription("A tar archive (plain, gzip, xz or zstd) unpacked into the image root.")
    Archive archive,

    @JsonPropertyDescription("Another VirtualDisk in the same namespace whose image is copied (sparsely) as this one's starting content. With spec.nodeName empty the clone is made on the source's node; with spec.nodeName naming another node the image is streamed there from the source's agent (holes kept, checksum verified).")
    CloneFrom cloneFrom,

    @JsonPropertyDescription("Empty directories to create in the image, e.g. /proc, /sys, /home, /tmp.")
    @Size(max = Validation.MAX_CREATE_DIRS)
    List<@Pattern(Validation.ABSOLUTE_PATH) @Size(max = Validation.MAX_PATH) String> createDirs,

    @JsonPropertyDescription("Auto (default): Offline for ext2/3/4, LoopMount otherwise. LoopMount: the manual recipe (mount -o loop, copy, umount); needs a free loop device. Offline: build the filesystem from a staging directory with mke2fs -d, no mount and no loop device (ext2/3/4 only).")
    @Default("Auto")
    Method method) {

  public Populate {
    if (method == null) method = Method.Auto;
    if (hostPaths == null) hostPaths = List.of();
    if (createDirs == null) createDirs = List.of();
  }

  public enum Method { Auto, LoopMount, Offline }

  @JsonIgnoreProperties(ignoreUnknown = true)

  @JsonInclude(JsonInclude.Include.NON_NULL)
  public record HostPath(
      @JsonPropertyDescription("Absolute path of a directory (or file) on the dom0 node.")
      @Required
      @Pattern(Validation.ABSOLUTE_PATH)
      @Size(max = Validation.MAX_PATH)
      String path,

      @JsonPropertyDescription("Absolute path inside the image to copy it to. Default: the same path, as cp -ax /etc /mnt gives /etc.")
      @Pattern(Validation.ABSOLUTE_PATH)
      @Size(max = Validation.MAX_PATH)
      String target) {

    /** Where the copy lands inside the image. */
    public String effectiveTarget() {
      return target == null || target.isEmpty() ? path : target;
    }
  }

  @JsonIgnoreProperties(ignoreUnknown = true)

  @JsonInclude(JsonInclude.Include.NON_NULL)
  public record Archive(
      @JsonPropertyDescription("Absolute path of the archive on the node, or an http(s) URL.")
      @Required
      @Pattern(Validation.ARCHIVE_SOURCE)
      @Size(max = Validation.MAX_PATH)
      String source,

      @JsonPropertyDescription("Expected SHA-256 of the archive file, lower-case hex. Strongly recommended for URLs.")
      @Pattern(Validation.SHA256)
      String sha256) {}

  @JsonIgnoreProperties(ignoreUnknown = true)

  @JsonInclude(JsonInclude.Include.NON_NULL)
  public record CloneFrom(
      @JsonPropertyDescription("Name of the VirtualDisk to copy, in the same namespace; it must be Ready, and nothing may use or write to it during the copy.")
      @Required
      @Pattern(Validation.OBJECT_NAME)
      @Size(max = Validation.MAX_NAME)
      String name) {}
}
