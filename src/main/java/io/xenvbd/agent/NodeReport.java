package io.xenvbd.agent;

import io.xenvbd.api.BuildInfo;
import io.xenvbd.api.Dom0NodeStatus;
import io.xenvbd.api.LoopDevices;
import io.xenvbd.api.Sizes;
import io.xenvbd.disk.DiskEngine;
import io.xenvbd.disk.Inventory;
import io.xenvbd.disk.StorageInfo;
import io.xenvbd.protocol.NodeInfo;
import io.xenvbd.protocol.Protocol;
import java.nio.file.Path;
import java.util.List;

/** One reading of the node (loop devices, storage, images, orphans), shaped for the API and for the Dom0Node. */
record NodeReport(String nodeName, LoopDevices loopDevices, Dom0NodeStatus.Storage storage,
                  List<NodeInfo.Image> images, List<String> orphans) {

  static NodeReport read(String nodeName, DiskEngine engine) {
    Inventory inventory = engine.inventory();
    StorageInfo s = engine.storage();
    Dom0NodeStatus.Storage storage = new Dom0NodeStatus.Storage(s.root().toString(), s.capacityBytes(),
        s.availableBytes(), s.allocatedBytes(), s.promisedBytes(), Sizes.human(s.availableBytes()));
    List<NodeInfo.Image> images = inventory.images().stream()
        .map(i -> new NodeInfo.Image(i.namespace(), i.name(), i.ownerUid(), i.path().toString(),
            i.capacityBytes(), i.allocatedBytes()))
        .toList();
    List<String> orphans = inventory.orphans().stream().map(Path::toString).sorted().toList();
    return new NodeReport(nodeName, engine.loopStatus().toApi(), storage, images, orphans);
  }

  NodeInfo toNodeInfo() {
    return new NodeInfo(nodeName, BuildInfo.version(), loopDevices, storage, images, orphans,
        Protocol.VERSION);
  }
}
