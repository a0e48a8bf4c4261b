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
import java.time.Instant;
import java.time.temporal.ChronoUnit;
import java.util.Comparator;
import java.util.List;

/**
 * One reading of the node (loop devices, storage, images, orphans), shaped for the Dom0Node and, by
 * {@link #toNodeInfo}, for the API.
 */
record NodeReport(
    String nodeName,
    LoopDevices loopDevices,
    Dom0NodeStatus.Storage storage,
    List<NodeInfo.Image> images,
    List<String> orphans,
    List<Dom0NodeStatus.Released> released,
    int releasedCount) {

  static NodeReport read(String nodeName, DiskEngine engine) {
    Inventory inventory = engine.inventory();
    StorageInfo s = engine.storage();
    Dom0NodeStatus.Storage storage =
        new Dom0NodeStatus.Storage(
            s.root().toString(),
            s.capacityBytes(),
            s.availableBytes(),
            s.allocatedBytes(),
            s.promisedBytes(),
            Sizes.human(s.availableBytes()));
    List<NodeInfo.Image> images =
        inventory.images().stream()
            .map(
                i ->
                    new NodeInfo.Image(
                        i.namespace(),
                        i.name(),
                        i.ownerUid(),
                        i.path().toString(),
                        i.capacityBytes(),
                        i.allocatedBytes()))
            .toList();
    List<String> orphans = inventory.orphans().stream().map(Path::toString).sorted().toList();
    List<Dom0NodeStatus.Released> released =
        inventory.released().stream()
            .sorted(
                Comparator.comparing(
                    (Inventory.Released r) -> r.former().at(),
                    Comparator.nullsLast(Comparator.<Instant>reverseOrder())))
            .limit(Dom0NodeStatus.MAX_RELEASED_LISTED)
            .map(
                r ->
                    new Dom0NodeStatus.Released(
                        r.path().toString(),
                        r.capacityBytes(),
                        r.allocatedBytes(),
                        r.filesystem(),
                        r.filesystemUuid(),
                        r.former().namespace(),
                        r.former().name(),
                        r.former().uid(),
                        r.former().at() == null
                            ? null
                            : r.former().at().truncatedTo(ChronoUnit.SECONDS).toString()))
            .toList();
    return new NodeReport(
        nodeName,
        engine.loopStatus().toApi(),
        storage,
        images,
        orphans,
        released,
        inventory.released().size());
  }

  /** The same reading in the agent protocol's own types, announcing {@code protocol}'s version. */
  NodeInfo toNodeInfo(Protocol protocol) {
    LoopDevices l = loopDevices;
    NodeInfo.LoopDevices loops =
        new NodeInfo.LoopDevices(
            l.max(),
            l.unlimited(),
            l.inUse(),
            l.available(),
            l.summary(),
            l.devices() == null
                ? null
                : l.devices().stream()
                    .map(d -> new NodeInfo.Device(d.name(), d.backingFile()))
                    .toList());
    Dom0NodeStatus.Storage s = storage;
    NodeInfo.Storage room =
        new NodeInfo.Storage(
            s.root(),
            s.capacityBytes(),
            s.availableBytes(),
            s.allocatedBytes(),
            s.promisedBytes(),
            s.available());
    return new NodeInfo(
        nodeName, BuildInfo.version(), loops, room, images, orphans, protocol.version());
  }
}
