package io.xenvbd.disk;

import java.nio.file.Path;

/** A published image. */
public record ImageInfo(String namespace, String name, String ownerUid, Path path,
    long capacityBytes, long allocatedBytes, String filesystemUuid, String specDigest,
    String xenDisk, String xenLegacyDisk) {}
