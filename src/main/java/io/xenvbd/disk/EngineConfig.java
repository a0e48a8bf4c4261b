package io.xenvbd.disk;

import java.nio.file.Path;
import java.time.Duration;
import java.util.List;

/**
 * Engine configuration, read once.
 *
 * @param importDir the directory whose files may be adopted (spec.populate.adopt.importFile), on
 *     the images root's filesystem and apart from it; null: none (the default)
 * @param loopReserve free loop devices that Auto leaves for guests (it builds through a loop device
 *     only while more than that many are free)
 */
public record EngineConfig(
    Path imagesRoot,
    List<Path> allowedSources,
    Duration loopWait,
    Duration commandTimeout,
    UrlPolicy urls,
    List<Path> protectedPaths,
    Path importDir,
    int loopReserve) {

  /** Free loop devices Auto keeps for guests unless the admin says otherwise. */
  public static final int DEFAULT_LOOP_RESERVE = 2;

  public EngineConfig {
    if (loopReserve < 0)
      throw new IllegalArgumentException(
          "the loop device reserve must not be negative, got " + loopReserve);
    if (imagesRoot == null) throw new IllegalArgumentException("imagesRoot is required");
    imagesRoot = imagesRoot.toAbsolutePath().normalize();
    allowedSources =
        allowedSources == null
            ? List.of()
            : allowedSources.stream().map(p -> p.toAbsolutePath().normalize()).toList();
    if (loopWait == null) loopWait = Duration.ofSeconds(30);
    if (commandTimeout == null) commandTimeout = Duration.ofMinutes(30);
    if (urls == null) urls = UrlPolicy.none();
    protectedPaths =
        protectedPaths == null
            ? List.of()
            : protectedPaths.stream().map(p -> p.toAbsolutePath().normalize()).toList();
    if (importDir != null) importDir = importDir.toAbsolutePath().normalize();
  }

  public EngineConfig(
      Path imagesRoot,
      List<Path> allowedSources,
      Duration loopWait,
      Duration commandTimeout,
      UrlPolicy urls,
      List<Path> protectedPaths) {
    this(
        imagesRoot,
        allowedSources,
        loopWait,
        commandTimeout,
        urls,
        protectedPaths,
        null,
        DEFAULT_LOOP_RESERVE);
  }

  /** The same, adopting files from {@code dir}. */
  public EngineConfig withImportDir(Path dir) {
    return new EngineConfig(
        imagesRoot,
        allowedSources,
        loopWait,
        commandTimeout,
        urls,
        protectedPaths,
        dir,
        loopReserve);
  }

  public EngineConfig(
      Path imagesRoot,
      List<Path> allowedSources,
      Duration loopWait,
      Duration commandTimeout,
      UrlPolicy urls) {
    this(
        imagesRoot,
        allowedSources,
        loopWait,
        commandTimeout,
        urls,
        List.of(),
        null,
        DEFAULT_LOOP_RESERVE);
  }

  /** No URL allowed. */
  public EngineConfig(
      Path imagesRoot, List<Path> allowedSources, Duration loopWait, Duration commandTimeout) {
    this(
        imagesRoot,
        allowedSources,
        loopWait,
        commandTimeout,
        UrlPolicy.none(),
        List.of(),
        null,
        DEFAULT_LOOP_RESERVE);
  }

  /** The same configuration with another loop device reserve. */
  public EngineConfig withLoopReserve(int reserve) {
    return new EngineConfig(
        imagesRoot,
        allowedSources,
        loopWait,
        commandTimeout,
        urls,
        protectedPaths,
        importDir,
        reserve);
  }

  /**
   * 30 s to wait for a loop device, 30 min per command (a big cp or mke2fs -d can take that long).
   */
  public static EngineConfig defaults(Path imagesRoot, List<Path> allowed) {
    return new EngineConfig(imagesRoot, allowed, Duration.ofSeconds(30), Duration.ofMinutes(30));
  }
}
