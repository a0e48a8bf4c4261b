package io.xenvbd.protocol;

import com.fasterxml.jackson.annotation.JsonInclude;

/**
 * What an agent knows of one disk: the answer to PUT and GET of {@code
 * /v1/disks/{namespace}/{name}}.
 */
@JsonInclude(JsonInclude.Include.NON_NULL)
public record DiskState(
    String namespace,
    String name,
    String uid,
    Phase phase,
    /** Current stage while building: Create, Format, Populate, Tailor, Check, Publish, Resize. */
    String stage,
    Long bytesDone,
    Long bytesTotal,
    Integer percent,
    /** The size the image has (or is being built or grown to), in bytes. */
    Long capacityBytes,
    Long allocatedBytes,
    String filesystemUUID,
    /**
     * The image's path on the node. The xl {@code disk=} lines are the operator's to write (from it
     * and spec.xen).
     */
    String path,
    /** Digest of the spec the image was built from (or is being built from). */
    String specDigest,
    /** Set when phase is Failed. */
    ErrorBody error,
    /**
     * How a clone's image was copied; absent for a disk that is no clone, and from agents before
     * protocol 3.
     */
    Cloned cloned) {

  /**
   * How a clone's image was copied: {@code method} Reflink (blocks shared with the source) or
   * SparseCopy (only allocated extents copied); {@code sharedBytes} as FIEMAP reported, when it
   * could.
   */
  @JsonInclude(JsonInclude.Include.NON_NULL)
  public record Cloned(String method, Long sharedBytes) {}

  public enum Phase {
    Building,
    Resizing,
    Ready,
    Failed
  }

  /** The stage of an operation that waits for a free worker on the agent. */
  public static final String STAGE_QUEUED = "Queued";

  /** Whether the agent has not started working on this disk yet. */
  public boolean queued() {
    return STAGE_QUEUED.equals(stage);
  }
}
