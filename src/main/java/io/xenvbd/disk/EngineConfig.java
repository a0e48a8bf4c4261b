package io.xenvbd.disk;

import java.nio.file.Path;
import java.time.Duration;
import java.util.List;

/**
 * Engine configuration, read once.
 *
 * @param importDir the directory whose files may be adopted (spec.populate.adopt.importFile), on the
 *     images root's filesystem and apart from it; null: none (the default)
 */
public record EngineConfig(
    Path imagesRoot,
    List<Path> allowedSources,
    Duration loopWait,
    Duration commandTimeout,
    UrlPolicy urls,
    List<Path> protectedPaths,
    Path importDir) {

  public EngineConfig {
    if (imagesRoot == null) throw new IllegalArgumentException("imagesRoot is required");
    imagesRoot = imagesRoot.toAbsolutePath().normalize();
    allowedSources = allowedSources == null ? List.of()
        : allowedSources.stream().map(p -> p.toAbsolutePath().normalize()).toList();
    if (loopWait == null) loopWait = Duration.ofSeconds(30);
    if (commandTimeout == null) commandTimeout = Duration.ofMinutes(30);
    if (urls == null) urls = UrlPolicy.none();
    protectedPaths = protectedPaths == null ? List.of()
        : protectedPaths.stream().map(p -> p.toAbsolutePath().normalize()).toList();
    if (importDir != null) importDir = importDir.toAbsolutePath().normalize();
  }

  public EngineConfig(Path imagesRoot, List<Path> allowedSources, Duration loopWait, Duration commandTimeout,
                      UrlPolicy urls, List<Path> protectedPaths) {
    this(imagesRoot, allowedSources, loopWait, commandTimeout, urls, protectedPaths, null);
  }

  /** The same, adopting files from {@code dir}. */
  public EngineConfig withImportDir(Path dir) {
    return new EngineConfig(imagesRoot, allowedSources, loopWait, commandTimeout, urls, protectedPaths, dir);
  }

  public EngineConfig(Path imagesRoot, List<Path> allowedSources, Duration loopWait, Duration commandTimeout,
                      UrlPolicy urls) {
    this(imagesRoot, allowedSources, loopWait, commandTimeout, urls, List.of());
  }

  /** No URL allowed. */
  public EngineConfig(Path imagesRoot, List<Path> allowedSources, Duration loopWait, Duration commandTimeout) {
    this(imagesRoot, allowedSources, loopWait, commandTimeout, UrlPolicy.none(), List.of());
  }

  /** 30 s to wait for a loop device, 30 min per command (a big cp or mke2fs -d can take that long). */
  public static EngineConfig defaults(Path imagesRoot, List<Path> allowed) {
    return new EngineConfig(imagesRoot, allowed, Duration.ofSeconds(30), Duration.ofMinutes(30));
  }
}
