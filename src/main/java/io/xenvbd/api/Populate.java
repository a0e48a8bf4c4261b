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
@ValidationRule(
    value =
        "!has(self.cloneFrom) || (!has(self.archive) && (!has(self.hostPaths) || size(self.hostPaths) == 0))",
    message = Validation.CLONE_EXCLUSIVE)
@ValidationRule(
    value =
        "!has(self.adopt) || (!has(self.archive) && !has(self.cloneFrom)"
            + " && (!has(self.hostPaths) || size(self.hostPaths) == 0) && (!has(self.createDirs) || size(self.createDirs) == 0))",
    message = Validation.ADOPT_EXCLUSIVE)
public record Populate(
    @JsonPropertyDescription(
            "dom0 directories copied into the image the way cp -ax does: one filesystem, keeping owners, modes, times, hard and symbolic links, device nodes, extended attributes and holes. Only from paths the node agent's admin allows.")
        @Size(max = Validation.MAX_HOST_PATHS)
        List<HostPath> hostPaths,
    @JsonPropertyDescription(
            "A tar archive (plain, gzip, xz or zstd) unpacked into the image root.")
        Archive archive,
    @JsonPropertyDescription(
            "Another VirtualDisk in the same namespace whose image is copied (sparsely) as this one's starting content. With spec.nodeName empty the clone is made on the source's node; with spec.nodeName naming another node the image is streamed there from the source's agent (holes kept, checksum verified).")
        CloneFrom cloneFrom,
    @JsonPropertyDescription(
            "Empty directories to create in the image, e.g. /proc, /sys, /home, /tmp.")
        @Size(max = Validation.MAX_CREATE_DIRS)
        List<@Pattern(Validation.ABSOLUTE_PATH) @Size(max = Validation.MAX_PATH) String> createDirs,
    @JsonPropertyDescription(
            "Auto (default): for ext2/3/4 with a tree to copy, LoopMount while the node has more free loop devices than the agent's --loop-reserve, else Offline; Offline for ext2/3/4 with nothing to copy; LoopMount for xfs. LoopMount: the manual recipe (mount -o loop, copy, umount); needs a free loop device. Offline: build the filesystem from a staging directory with mke2fs -d, no mount and no loop device (ext2/3/4 only).")
        @Default("Auto")
        Method method,
    @JsonPropertyDescription(
            "Take over an existing image on the node instead of building one: a released image (one whose VirtualDisk was deleted with reclaimPolicy Retain, listed in its Dom0Node's status.released) or a file the node's admin put in the agent's import directory. The data is never rewritten: the agent identifies and checks the filesystem read-only, refuses an image in use, and moves it into place. Excludes every other populate source and spec.tailor.")
        Adopt adopt) {

  /** The sources of the first builds, without adoption. */
  public Populate(
      List<HostPath> hostPaths,
      Archive archive,
      CloneFrom cloneFrom,
      List<String> createDirs,
      Method method) {
    this(hostPaths, archive, cloneFrom, createDirs, method, null);
  }

  public Populate {
    if (method == null) method = Method.Auto;
    if (hostPaths == null) hostPaths = List.of();
    if (createDirs == null) createDirs = List.of();
  }

  public enum Method {
    Auto,
    LoopMount,
    Offline
  }

  @JsonIgnoreProperties(ignoreUnknown = true)
  @JsonInclude(JsonInclude.Include.NON_NULL)
  public record HostPath(
      @JsonPropertyDescription("Absolute path of a directory (or file) on the dom0 node.")
          @Required
          @Pattern(Validation.ABSOLUTE_PATH)
          @Size(max = Validation.MAX_PATH)
          String path,
      @JsonPropertyDescription(
              "Absolute path inside the image to copy it to. Default: the same path, as cp -ax /etc /mnt gives /etc.")
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
      @JsonPropertyDescription(
              "Expected SHA-256 of the archive file, lower-case hex. Strongly recommended for URLs.")
          @Pattern(Validation.SHA256)
          String sha256) {}

  @JsonIgnoreProperties(ignoreUnknown = true)
  @JsonInclude(JsonInclude.Include.NON_NULL)
  public record CloneFrom(
      @JsonPropertyDescription(
              "Name of the VirtualDisk to copy, in the same namespace; it must be Ready, and nothing may use or write to it during the copy.")
          @Required
          @Pattern(Validation.OBJECT_NAME)
          @Size(max = Validation.MAX_NAME)
          String name) {}

  /**
   * An existing image to take over: exactly one of {@code name} (a released image by its former
   * VirtualDisk's name), {@code uuid} (a released image by its filesystem UUID) or {@code
   * importFile} (a file in the node's import directory). Names only, never a path.
   */
  @JsonIgnoreProperties(ignoreUnknown = true)
  @JsonInclude(JsonInclude.Include.NON_NULL)
  @ValidationRule(
      value =
          "(has(self.name) ? 1 : 0) + (has(self.uuid) ? 1 : 0) + (has(self.importFile) ? 1 : 0) == 1",
      message = Validation.ADOPT_ONE)
  @ValidationRule(
      value = "!has(self.namespace) || has(self.name)",
      message =
          "spec.populate.adopt.namespace goes with adopt.name: leave it out, or give the name too")
  public record Adopt(
      @JsonPropertyDescription(
              "Former name of a released image: the VirtualDisk that was deleted with reclaimPolicy Retain (it may be this VirtualDisk's own name).")
          @Pattern(Validation.OBJECT_NAME)
          @Size(max = Validation.MAX_NAME)
          String name,
      @JsonPropertyDescription(
              "Namespace the released image was released from. Default: this VirtualDisk's namespace, the only one it may be adopted from.")
          @Pattern(Validation.NAMESPACE)
          @Size(max = 63)
          String namespace,
      @JsonPropertyDescription(
              "Filesystem UUID of a released image, as its Dom0Node's status.released lists it.")
          @Pattern(Validation.FILESYSTEM_UUID)
          String uuid,
      @JsonPropertyDescription(
              "Name of a file in the node agent's import directory (--import-dir, chosen by the node's admin): a plain file name, never a path. It must be a regular file with one link, on the images root's filesystem, and in use by nobody.")
          @Pattern(Validation.IMPORT_FILE)
          @Size(max = Validation.MAX_IMPORT_FILE)
          String importFile) {}
}
