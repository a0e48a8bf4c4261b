package io.xenvbd.disk;

import io.xenvbd.api.LoopDevices;
import java.util.List;

/** The node's loop devices: the limit ({@code 0} = unlimited) and those attached to a file. */
public record LoopStatus(int max, List<LoopDevices.Device> inUse) {
  public LoopDevices toApi() {
    return LoopDevices.of(max, inUse.size(), inUse);
  }

  /** True when another device can be attached. */
  public boolean hasFree() {
    return max <= 0 || inUse.size() < max;
  }
}
