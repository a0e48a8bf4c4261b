package io.xenvbd.api;

import com.fasterxml.jackson.annotation.JsonIgnoreProperties;
import com.fasterxml.jackson.annotation.JsonInclude;
import com.fasterxml.jackson.annotation.JsonPropertyDescription;
import io.fabric8.kubernetes.api.model.Condition;
import java.util.List;

/** Written by the node's agent at registration and on every heartbeat. */
@JsonIgnoreProperties(ignoreUnknown = true)
@JsonInclude(JsonInclude.Include.NON_NULL)
public record Dom0NodeStatus(
    @JsonPropertyDescription("The agent serving this node.")
    Agent agent,
    @JsonPropertyDescription("Loop devices: limit, in use (with backing files), available.")
    LoopDevices loopDevices,
    @JsonPropertyDescription("The images root's filesystem and what is promised on it.")
    Storage storage,
    @JsonPropertyDescription("Images under the root that belong to a VirtualDisk.")
    Integer disks,
    @JsonPropertyDescription("Image files under the root that no VirtualDisk owns (reported, never deleted automatically).")
    List<String> orphans,
    @JsonPropertyDescription("Ready: the agent heartbeats; Unknown when heartbeats stop.")
    List<Condition> conditions) {

  @JsonIgnoreProperties(ignoreUnknown = true)

  @JsonInclude(JsonInclude.Include.NON_NULL)
  public record Agent(
      @JsonPropertyDescription("https://host:port of the agent's API.")
      String endpoint,
      @JsonPropertyDescription("Agent version.")
      String version,
      @JsonPropertyDescription("Time of the last heartbeat (RFC 3339).")
      String lastHeartbeat,
      @JsonPropertyDescription("Seconds between heartbeats; the node is stale after three missed.")
      Integer heartbeatSeconds,
      @JsonPropertyDescription("Version of the agent protocol the agent speaks; absent from agents older than protocol 3, which the operator treats as 1.")
      Integer protocolVersion) {}

  @JsonIgnoreProperties(ignoreUnknown = true)

  @JsonInclude(JsonInclude.Include.NON_NULL)
  public record Storage(
      @JsonPropertyDescription("Images root directory on the node.")
      String root,
      @JsonPropertyDescription("Size of the filesystem holding the images root.")
      Long capacityBytes,
      @JsonPropertyDescription("Free bytes on that filesystem.")
      Long availableBytes,
      @JsonPropertyDescription("Bytes the images really occupy.")
      Long allocatedBytes,
      @JsonPropertyDescription("Sum of the apparent sizes of the images (what has been promised).")
      Long promisedBytes,
      @JsonPropertyDescription("availableBytes in human units, for kubectl get.")
      String available) {}
}
