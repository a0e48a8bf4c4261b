package io.xenvbd.disk;

import io.xenvbd.api.VirtualDiskStatus;
import java.nio.file.Path;

/**
 * A published image. Its xl {@code disk=} lines are the operator's to write (api.XenEntries), from
 * its path and the spec; {@code cloned} says how a clone's image was copied (null for a disk that
 * is no clone).
 */
public record ImageInfo(
    String namespace,
    String name,
    String ownerUid,
    Path path,
    long capacityBytes,
    long allocatedBytes,
    String filesystemUuid,
    String specDigest,
    VirtualDiskStatus.Clone cloned) {}
