package io.xenvbd.api;

import com.fasterxml.jackson.annotation.JsonIgnoreProperties;
import com.fasterxml.jackson.annotation.JsonInclude;
import com.fasterxml.jackson.annotation.JsonPropertyDescription;
import io.fabric8.kubernetes.api.model.Condition;
import java.util.List;

/**
 * What the operator observed. Built in one place by the operator and written only when it changed.
 */
@JsonIgnoreProperties(ignoreUnknown = true)
@JsonInclude(JsonInclude.Include.NON_NULL)
public record VirtualDiskStatus(
    @JsonPropertyDescription(
            "Pending, Provisioning, Ready, Failed, Deleting, or Moving (Ready on its node while its image is copied to another, see status.move).")
        Phase phase,
    @JsonPropertyDescription(
            "The newest metadata.generation whose spec the image realises (absent until the first build is done). A newer spec that is being applied or cannot be applied (a refused grow, an invalid edit) leaves it behind; the conditions, each with its own observedGeneration, say why.")
        Long observedGeneration,
    @JsonPropertyDescription("The dom0 node that holds (or will hold) the image.") String nodeName,
    @JsonPropertyDescription("Absolute path of the image file on the node.") String path,
    @JsonPropertyDescription("Apparent size of the image in bytes.") Long capacityBytes,
    @JsonPropertyDescription(
            "Bytes the image really occupies on the node (sparse files occupy less than their size).")
        Long allocatedBytes,
    @JsonPropertyDescription("allocatedBytes in human units, for kubectl get.") String allocated,
    @JsonPropertyDescription("UUID of the filesystem in the image.") String filesystemUUID,
    @JsonPropertyDescription(
            "The filesystem the image is built with, recorded when the node is chosen; spec.filesystem may not differ from it.")
        String filesystem,
    @JsonPropertyDescription("Progress of the current build or resize.") Progress progress,
    @JsonPropertyDescription("Xen disk entries for the guest's configuration.") XenStatus xen,
    @JsonPropertyDescription(
            "Loop devices on the node: each running guest's file-backed disk holds one.")
        LoopDevices loopDevices,
    @JsonPropertyDescription(
            "Scheduled, Provisioned, Resized (from the first grow on), LoopDeviceAvailable, Ready (the summary), and Moved on a draining Dom0Node (False with why it waits: Moving, ImageInUse, PinnedToNode, MoveFailed, ...; True once moved). Ready is Unknown with reason NodeLost when the disk's node stopped heartbeating and NodeDeleted when its Dom0Node is gone: the disk stays bound to that node and turns Ready by itself when it returns.")
        List<Condition> conditions,
    @JsonPropertyDescription(
            "For a disk made from populate.cloneFrom: how its image was copied and how much it shares with other images.")
        Clone cloned,
    @JsonPropertyDescription(
            "A move off a draining Dom0Node under way: the node it leaves, the node it goes to, and how far it is. Absent when no move is under way.")
        Move move) {

  /** A status without a move under way. */
  public VirtualDiskStatus(
      Phase phase,
      Long observedGeneration,
      String nodeName,
      String path,
      Long capacityBytes,
      Long allocatedBytes,
      String allocated,
      String filesystemUUID,
      String filesystem,
      Progress progress,
      XenStatus xen,
      LoopDevices loopDevices,
      List<Condition> conditions,
      Clone cloned) {
    this(
        phase,
        observedGeneration,
        nodeName,
        path,
        capacityBytes,
        allocatedBytes,
        allocated,
        filesystemUUID,
        filesystem,
        progress,
        xen,
        loopDevices,
        conditions,
        cloned,
        null);
  }

  /** The same status with {@code move}, {@code phase}, {@code progress} and conditions replaced. */
  public VirtualDiskStatus moving(
      Move move, Phase phase, Progress progress, List<Condition> conditions) {
    return new VirtualDiskStatus(
        phase,
        observedGeneration,
        nodeName,
        path,
        capacityBytes,
        allocatedBytes,
        allocated,
        filesystemUUID,
        filesystem,
        progress,
        xen,
        loopDevices,
        conditions,
        cloned,
        move);
  }

  /** A status of a disk that is no clone (or whose clone facts are not known). */
  public VirtualDiskStatus(
      Phase phase,
      Long observedGeneration,
      String nodeName,
      String path,
      Long capacityBytes,
      Long allocatedBytes,
      String allocated,
      String filesystemUUID,
      String filesystem,
      Progress progress,
      XenStatus xen,
      LoopDevices loopDevices,
      List<Condition> conditions) {
    this(
        phase,
        observedGeneration,
        nodeName,
        path,
        capacityBytes,
        allocatedBytes,
        allocated,
        filesystemUUID,
        filesystem,
        progress,
        xen,
        loopDevices,
        conditions,
        null);
  }

  public enum Phase {
    Pending,
    Provisioning,
    Ready,
    Failed,
    Deleting,
    /** Ready on its node while its image is copied to another (a drain); then Ready there. */
    Moving
  }

  /** What a disk has before any status was written: nothing known, no condition. */
  public static VirtualDiskStatus empty() {
    return new VirtualDiskStatus(
        null, null, null, null, null, null, null, null, null, null, null, null, List.of());
  }

  @JsonIgnoreProperties(ignoreUnknown = true)
  @JsonInclude(JsonInclude.Include.NON_NULL)
  public record Progress(
      @JsonPropertyDescription(
              "Current stage: Transfer (a clone streamed from another node), Create, Format, Populate, Tailor, Check, Publish, Resize.")
          String stage,
      @JsonPropertyDescription("Percent done of the whole operation, 0 to 100.") Integer percent,
      @JsonPropertyDescription("Bytes done in the current stage.") Long bytesDone,
      @JsonPropertyDescription("Bytes to do in the current stage.") Long bytesTotal) {}

  @JsonIgnoreProperties(ignoreUnknown = true)
  @JsonInclude(JsonInclude.Include.NON_NULL)
  public record XenStatus(
      @JsonPropertyDescription(
              "The current xl form, for disk = [ '...' ]: format=raw, vdev=xvda1, access=rw, target=/path")
          String disk,
      @JsonPropertyDescription("The manual recipe's deprecated form: file:/path,sda1,w")
          String legacyDisk) {}

  @JsonIgnoreProperties(ignoreUnknown = true)
  @JsonInclude(JsonInclude.Include.NON_NULL)
  public record Clone(
      @JsonPropertyDescription(
              "Reflink: the image shares the source's blocks (copy-on-write, on an images root with reflink such as XFS or btrfs). SparseCopy: only the source's allocated extents were copied.")
          CloneMethod method,
      @JsonPropertyDescription(
              "Bytes of the image that shared blocks with another image (its source or another clone) when it was made; 0 for SparseCopy; absent when the images root cannot tell. The guest's writes unshare blocks.")
          Long sharedBytes) {}

  /**
   * A move off a draining node. {@code stage} Copying: the image is streamed to {@code to} while
   * the disk stays where status.nodeName says ({@code from}); Switched: status.nodeName is {@code
   * to} and the old image on {@code from} is being deleted.
   */
  @JsonIgnoreProperties(ignoreUnknown = true)
  @JsonInclude(JsonInclude.Include.NON_NULL)
  public record Move(
      @JsonPropertyDescription("The draining node the disk leaves.") String from,
      @JsonPropertyDescription("The node the disk goes to.") String to,
      @JsonPropertyDescription(
              "Copying (the image is streamed to the new node; the disk is still on the old one) or Switched (the disk is on the new node; its old image is being deleted).")
          MoveStage stage,
      @JsonPropertyDescription("When the move started (RFC 3339).") String startedAt) {
    public Move withStage(MoveStage s) {
      return new Move(from, to, s, startedAt);
    }
  }

  public enum MoveStage {
    Copying,
    Switched
  }

  public enum CloneMethod {
    Reflink,
    SparseCopy
  }
}
