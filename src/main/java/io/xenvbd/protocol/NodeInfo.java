package io.xenvbd.protocol;

import com.fasterxml.jackson.annotation.JsonInclude;
import io.xenvbd.api.Dom0NodeStatus;
import io.xenvbd.api.LoopDevices;
import java.util.List;

/** Answer to {@code GET /v1/node}. */
@JsonInclude(JsonInclude.Include.NON_NULL)
public record NodeInfo(
    String nodeName,
    String version,
    LoopDevices loopDevices,
    Dom0NodeStatus.Storage storage,
    List<Image> images,
    List<String> orphans,
    /** The agent's {@link Protocol#VERSION}; null from an agent that predates versioning. */
    Integer protocolVersion) {

  /** One image the agent owns. */
  public record Image(String namespace, String name, String uid, String path, long capacityBytes, long allocatedBytes) {}
}
