package io.xenvbd.disk;

import java.nio.file.Path;

/** A published image. Its xl {@code disk=} lines are the operator's to write (api.XenEntries), from its path and the spec. */
public record ImageInfo(String namespace, String name, String ownerUid, Path path,
    long capacityBytes, long allocatedBytes, String filesystemUuid, String specDigest) {}
