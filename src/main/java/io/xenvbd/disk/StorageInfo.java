package io.xenvbd.disk;

import java.nio.file.Path;

/**
 * The images root's filesystem and what the images on it use (allocated) and promise (apparent
 * sizes).
 */
public record StorageInfo(
    Path root, long capacityBytes, long availableBytes, long allocatedBytes, long promisedBytes) {}
