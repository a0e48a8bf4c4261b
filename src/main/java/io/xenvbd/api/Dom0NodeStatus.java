package io.xenvbd.api;

import com.fasterxml.jackson.annotation.JsonIgnoreProperties;
import com.fasterxml.jackson.annotation.JsonInclude;
import com.fasterxml.jackson.annotation.JsonPropertyDescription;
import io.fabric8.kubernetes.api.model.Condition;
import java.util.List;

/**
 * Written by the node's agent at registration and on every heartbeat; the operator writes only the
 * Ready condition, Unknown, when heartbeats stop.
 */
@JsonIgnoreProperties(ignoreUnknown = true)
@JsonInclude(JsonInclude.Include.NON_NULL)
public record Dom0NodeStatus(
    @JsonPropertyDescription("The agent serving this node.") Agent agent,
    @JsonPropertyDescription("Loop devices: limit, in use (with backing files), available.")
        LoopDevices loopDevices,
    @JsonPropertyDescription("The images root's filesystem and what is promised on it.")
        Storage storage,
    @JsonPropertyDescription("Images under the root that belong to a VirtualDisk.") Integer disks,
    @JsonPropertyDescription(
            "Image files under the root that no VirtualDisk owns (reported, never deleted automatically).")
        List<String> orphans,
    @JsonPropertyDescription(
            "Ready: True, written by the agent on every heartbeat (reason AgentHeartbeat); Unknown, written by the operator (reason HeartbeatMissed, with the time of the last heartbeat) once the agent missed three heartbeats in a row; True again at its next heartbeat. Drained (while spec.drain is true, written by the operator): False with how many disks are left and why, True once none is left.")
        List<Condition> conditions,
    @JsonPropertyDescription(
            "Released images: kept on the node after their VirtualDisk was deleted with reclaimPolicy Retain (in local mode also those whose VirtualDisk a restart forgot), each with its size, filesystem, UUID and former owner. A new VirtualDisk of the former namespace takes one back with spec.populate.adopt. At most 100 are listed; releasedCount says how many there are.")
        List<Released> released,
    @JsonPropertyDescription(
            "How many released images the node holds (status.released lists at most 100).")
        Integer releasedCount) {

  /**
   * At most this many released images are listed, so that a node full of them keeps its status
   * small.
   */
  public static final int MAX_RELEASED_LISTED = 100;

  /** The status of agents before released images were listed. */
  public Dom0NodeStatus(
      Agent agent,
      LoopDevices loopDevices,
      Storage storage,
      Integer disks,
      List<String> orphans,
      List<Condition> conditions) {
    this(agent, loopDevices, storage, disks, orphans, conditions, null, null);
  }

  /** One released image: where it is, what it holds, and whose it was. */
  @JsonIgnoreProperties(ignoreUnknown = true)
  @JsonInclude(JsonInclude.Include.NON_NULL)
  public record Released(
      @JsonPropertyDescription("Path of the image file on the node.") String path,
      @JsonPropertyDescription("Apparent size of the image in bytes.") Long capacityBytes,
      @JsonPropertyDescription("Bytes the image really occupies.") Long allocatedBytes,
      @JsonPropertyDescription("Filesystem in the image: ext2, ext3, ext4, xfs or none.")
          String filesystem,
      @JsonPropertyDescription("Filesystem UUID (adopt it by this with spec.populate.adopt.uuid).")
          String filesystemUUID,
      @JsonPropertyDescription(
              "Namespace of the VirtualDisk that owned it: only a VirtualDisk of this namespace may adopt it.")
          String formerNamespace,
      @JsonPropertyDescription(
              "Name of the VirtualDisk that owned it (adopt it by this with spec.populate.adopt.name).")
          String formerName,
      @JsonPropertyDescription("metadata.uid of the VirtualDisk that owned it.") String formerUid,
      @JsonPropertyDescription("When it was released (RFC 3339).") String releasedAt) {}

  @JsonIgnoreProperties(ignoreUnknown = true)
  @JsonInclude(JsonInclude.Include.NON_NULL)
  public record Agent(
      @JsonPropertyDescription("https://host:port of the agent's API.") String endpoint,
      @JsonPropertyDescription("Agent version.") String version,
      @JsonPropertyDescription("Time of the last heartbeat (RFC 3339).") String lastHeartbeat,
      @JsonPropertyDescription("Seconds between heartbeats; the node is stale after three missed.")
          Integer heartbeatSeconds,
      @JsonPropertyDescription(
              "Version of the agent protocol the agent speaks; absent from agents older than protocol 3, which the operator treats as 1.")
          Integer protocolVersion) {}

  @JsonIgnoreProperties(ignoreUnknown = true)
  @JsonInclude(JsonInclude.Include.NON_NULL)
  public record Storage(
      @JsonPropertyDescription("Images root directory on the node.") String root,
      @JsonPropertyDescription("Size of the filesystem holding the images root.")
          Long capacityBytes,
      @JsonPropertyDescription("Free bytes on that filesystem.") Long availableBytes,
      @JsonPropertyDescription("Bytes the images really occupy.") Long allocatedBytes,
      @JsonPropertyDescription("Sum of the apparent sizes of the images (what has been promised).")
          Long promisedBytes,
      @JsonPropertyDescription("availableBytes in human units, for kubectl get.")
          String available) {}
}
