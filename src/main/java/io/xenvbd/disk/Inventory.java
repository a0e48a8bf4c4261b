package io.xenvbd.disk;

import java.nio.file.Path;
import java.util.List;

/** What lies under the images root. */
public record Inventory(List<ImageInfo> images,
                        List<Path> orphans,     // image files with no/unknown metadata
                        List<Path> leftovers) {} // temp files of interrupted builds
