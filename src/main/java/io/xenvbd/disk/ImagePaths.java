package io.xenvbd.disk;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.LinkOption;
import java.nio.file.Path;
import java.security.SecureRandom;
import java.util.HexFormat;
import java.util.List;

/**
 * Every path the engine touches, derived from the images root and checked against it: images
 * {@code <root>/<ns>/<name>.img}, metadata beside them, temporary names that start with {@code .} and
 * contain {@code .tmp} (so recover() can tell them from images), and host sources under the allowlist.
 */
public final class ImagePaths {
  static final String IMAGE_SUFFIX = ".img";
  static final String META_SUFFIX = ".img.json";
  private static final SecureRandom RANDOM = new SecureRandom();

  private final Path root;
  private final List<Path> allowedSources;

  public ImagePaths(Path root, List<Path> allowedSources) {
    this.root = root.toAbsolutePath().normalize();
    this.allowedSources = allowedSources;
  }

  public Path root() {
    return root;
  }

  public Path namespaceDir(String namespace) {
    DiskRequest.checkNames(namespace, "x");
    return under(root.resolve(namespace));
  }

  public Path image(String namespace, String name) {
    DiskRequest.checkNames(namespace, name);
    return under(root.resolve(namespace).resolve(name + IMAGE_SUFFIX));
  }

  public Path metadata(String namespace, String name) {
    DiskRequest.checkNames(namespace, name);
    return under(root.resolve(namespace).resolve(name + META_SUFFIX));
  }

  /** A fresh temporary name beside {@code finalPath}, on the same filesystem so that rename is atomic. */
  public Path tempBeside(Path finalPath) {
    return under(finalPath.resolveSibling("." + finalPath.getFileName() + ".tmp-" + random()));
  }

  /** A fresh temporary directory name directly under the root (staging trees, mount points, downloads). */
  public Path tempUnderRoot(String kind) {
    return under(root.resolve(".tmp-" + kind + "-" + random()));
  }

  static boolean isTempName(String fileName) {
    return fileName.startsWith(".") && fileName.contains(".tmp");
  }

  /** Refuses any path that does not stay under the images root after normalising. */
  public Path under(Path p) {
    Path n = p.toAbsolutePath().normalize();
    if (!n.startsWith(root) || n.equals(root)) {
      throw DiskException.invalid("path '" + p + "' escapes the images root " + root + ": use a plain namespace and name");
    }
    return n;
  }

  /**
   * Resolves a hostPaths source: symlinks followed, then it must lie under one allowed source
   * (allowlist entries are resolved too, so an allowed directory may itself be a symlink).
   */
  public Path allowedSource(String source) {
    Path given = Path.of(source);
    if (!given.isAbsolute()) {
      throw new DiskException(ErrorCode.SourceNotAllowed, "hostPaths path '" + source + "' must be absolute");
    }
    Path real;
    try {
      real = given.toRealPath();
    } catch (IOException e) {
      throw new DiskException(ErrorCode.SourceNotAllowed, "hostPaths path '" + source + "' does not exist on this node");
    }
    for (Path allowed : allowedSources) {
      try {
        if (real.startsWith(allowed.toRealPath())) return real;
      } catch (IOException ignored) {
        // An allowlist entry that does not exist allows nothing.
      }
    }
    throw new DiskException(ErrorCode.SourceNotAllowed, "hostPaths path '" + source + "'"
        + (real.equals(given.normalize()) ? "" : " (resolves to " + real + ")")
        + " is not under a source the node's admin allows " + allowedSources
        + ": ask the admin to allow it (--allow-source) or copy from an allowed directory");
  }

  /**
   * A path inside an image tree (staging dir or mount point), given as the absolute path the guest
   * sees. Refused when it, or a directory on the way, is a symlink leading out of the tree: content
   * from an archive or clone must never make the engine write into dom0.
   */
  public static Path insideTree(Path tree, String guestPath) {
    Path rel = Path.of("/").relativize(Path.of(guestPath).normalize());
    Path target = tree.resolve(rel).normalize();
    if (!target.startsWith(tree) || rel.toString().startsWith("..")) {
      throw DiskException.invalid("path '" + guestPath + "' leaves the image: use an absolute path without '..'");
    }
    try {
      Path realTree = tree.toRealPath();
      Path existing = target;
      while (existing != null && !Files.exists(existing, LinkOption.NOFOLLOW_LINKS)) existing = existing.getParent();
      if (existing != null && !existing.toRealPath().startsWith(realTree)) {
        throw DiskException.invalid("path '" + guestPath + "' goes through a symbolic link that points outside the"
            + " image (" + existing + " -> " + existing.toRealPath() + "): choose another path or fix the image content");
      }
    } catch (java.nio.file.NoSuchFileException e) {
      throw DiskException.invalid("path '" + guestPath + "' goes through a dangling symbolic link in the image ("
          + e.getFile() + "): choose another path or fix the image content");
    } catch (IOException e) {
      throw new DiskException(ErrorCode.CommandFailed, "cannot resolve '" + guestPath + "' in the image: " + e.getMessage(), e);
    }
    return target;
  }

  private static String random() {
    byte[] b = new byte[6];
    RANDOM.nextBytes(b);
    return HexFormat.of().formatHex(b);
  }
}
