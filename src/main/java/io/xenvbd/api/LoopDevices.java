package io.xenvbd.api;

import com.fasterxml.jackson.annotation.JsonIgnoreProperties;
import com.fasterxml.jackson.annotation.JsonInclude;
import com.fasterxml.jackson.annotation.JsonPropertyDescription;
import java.util.List;

/**
 * A node's loop devices: the limit (max_loop, 0 meaning unlimited), which are in use and how many
 * are left.
 */
@JsonIgnoreProperties(ignoreUnknown = true)
@JsonInclude(JsonInclude.Include.NON_NULL)
public record LoopDevices(
    @JsonPropertyDescription("The node's limit (max_loop); absent when unlimited.") Integer max,
    @JsonPropertyDescription("true when the kernel creates loop devices on demand (max_loop=0).")
        Boolean unlimited,
    @JsonPropertyDescription("Loop devices attached to a file.") Integer inUse,
    @JsonPropertyDescription("Loop devices still free; absent when unlimited.") Integer available,
    @JsonPropertyDescription("In use / max, for kubectl get, e.g. 3/8 or 3/unlimited.")
        String summary,
    @JsonPropertyDescription("Attached devices and their backing files (Dom0Node only).")
        List<Device> devices) {

  public record Device(String name, String backingFile) {}

  public static LoopDevices of(int max, int inUse, List<Device> devices) {
    boolean unlimited = max <= 0;
    return new LoopDevices(
        unlimited ? null : max,
        unlimited,
        inUse,
        unlimited ? null : Math.max(0, max - inUse),
        inUse + "/" + (unlimited ? "unlimited" : String.valueOf(max)),
        devices);
  }

  /** The same figures without the device list, as VirtualDisk status shows them. */
  public LoopDevices withoutDevices() {
    return new LoopDevices(max, unlimited, inUse, available, summary, null);
  }

  public boolean hasFree() {
    return Boolean.TRUE.equals(unlimited) || (available != null && available > 0);
  }
}
