package io.xenvbd.protocol;

import com.fasterxml.jackson.annotation.JsonInclude;
import java.util.List;

/** Answer to {@code GET /v1/node}. */
@JsonInclude(JsonInclude.Include.NON_NULL)
public record NodeInfo(
    String nodeName,
    String version,
    LoopDevices loopDevices,
    Storage storage,
    List<Image> images,
    List<String> orphans,
    /** The agent's protocol version; null from an agent that predates versioning (version 1). */
    Integer protocolVersion) {

  /**
   * The node's loop devices: the limit ({@code max} absent when unlimited), those in use and how
   * many are left.
   */
  @JsonInclude(JsonInclude.Include.NON_NULL)
  public record LoopDevices(
      Integer max,
      Boolean unlimited,
      Integer inUse,
      Integer available,
      String summary,
      List<Device> devices) {}

  /** An attached loop device and its backing file. */
  public record Device(String name, String backingFile) {}

  /**
   * The images root's filesystem and what is promised on it ({@code available}: availableBytes for
   * people).
   */
  @JsonInclude(JsonInclude.Include.NON_NULL)
  public record Storage(
      String root,
      Long capacityBytes,
      Long availableBytes,
      Long allocatedBytes,
      Long promisedBytes,
      String available) {}

  /** One image the agent owns. */
  public record Image(
      String namespace,
      String name,
      String uid,
      String path,
      long capacityBytes,
      long allocatedBytes) {}
}
