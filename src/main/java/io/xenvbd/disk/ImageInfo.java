package io.xenvbd.disk;

import io.xenvbd.api.VirtualDiskStatus;
import java.nio.file.Path;

/** A published image; {@code cloned} says how a clone's image was copied (null for a disk that is no clone). */
public record ImageInfo(String namespace, String name, String ownerUid, Path path,
    long capacityBytes, long allocatedBytes, String filesystemUuid, String specDigest,
    String xenDisk, String xenLegacyDisk, VirtualDiskStatus.Clone cloned) {}
