package io.xenvbd.disk;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.LinkOption;
import java.nio.file.NoSuchFileException;
import java.nio.file.Path;
import java.nio.file.attribute.PosixFilePermission;
import java.nio.file.attribute.PosixFilePermissions;
import java.security.SecureRandom;
import java.util.ArrayList;
import java.util.HexFormat;
import java.util.List;
import java.util.Set;

/**
 * Every path the engine touches, derived from the images root and checked against it: images {@code
 * <root>/<ns>/<name>.img}, metadata beside them, temporary names that start with {@code .} and
 * contain {@code .tmp} (so recover() can tell them from images), and host sources under the
 * allowlist.
 */
public final class ImagePaths {
  static final String IMAGE_SUFFIX = ".img";
  static final String META_SUFFIX = ".img.json";

  /**
   * An import file being adopted waits directly under the root as {@code .import-<file name>}:
   * never a temporary name (recover() puts it back in the import directory instead of deleting it).
   */
  static final String PARKED_PREFIX = ".import-";

  private static final SecureRandom RANDOM = new SecureRandom();
  private static final Set<PosixFilePermission> PRIVATE_DIR =
      PosixFilePermissions.fromString("rwx------");

  private final Path root;
  private final List<Path> allowedSources;
  private final List<Path> protectedPaths;

  public ImagePaths(Path root, List<Path> allowedSources) {
    this(root, allowedSources, List.of());
  }

  /**
   * @param protectedPaths what the agent keeps to itself besides the images root (its token, TLS
   *     key and certificate, local mode's state): no source may lie inside one or contain one
   */
  public ImagePaths(Path root, List<Path> allowedSources, List<Path> protectedPaths) {
    this.root = real(root);
    this.allowedSources = allowedSources;
    List<Path> kept = new ArrayList<>(List.of(this.root));
    for (Path p : protectedPaths) kept.add(p.toAbsolutePath().normalize());
    this.protectedPaths = List.copyOf(kept);
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

  /**
   * Makes {@code dir} (the images root or a namespace directory under it) root-only, 0700: images
   * hold guests' data (their /etc/shadow), and a build's tree must not be reachable by any other
   * user of dom0.
   */
  public Path privateDirectory(Path dir) {
    Path d = dir.toAbsolutePath().normalize();
    if (!d.equals(root)) under(d);
    try {
      if (!d.equals(root)) privateDirectory(root);
      if (!Files.isDirectory(d, LinkOption.NOFOLLOW_LINKS)) {
        Files.createDirectories(d);
      }
      Files.setPosixFilePermissions(d, PRIVATE_DIR);
      return d;
    } catch (IOException e) {
      throw Io.wrap(e, "creating directory " + d);
    }
  }

  /**
   * A fresh temporary name beside {@code finalPath}, on the same filesystem so that rename is
   * atomic.
   */
  public Path tempBeside(Path finalPath) {
    return under(finalPath.resolveSibling("." + finalPath.getFileName() + ".tmp-" + random()));
  }

  /**
   * A fresh temporary directory name directly under the root (staging trees, mount points,
   * downloads).
   */
  public Path tempUnderRoot(String kind) {
    return under(root.resolve(".tmp-" + kind + "-" + random()));
  }

  static boolean isTempName(String fileName) {
    return fileName.startsWith(".")
        && fileName.contains(".tmp")
        && !fileName.startsWith(PARKED_PREFIX);
  }

  /** Refuses any path that does not stay under the images root after normalising. */
  public Path under(Path p) {
    Path n = p.toAbsolutePath().normalize();
    if (!n.startsWith(root) || n.equals(root)) {
      throw DiskException.invalid(
          "path '" + p + "' escapes the images root " + root + ": use a plain namespace and name");
    }
    return n;
  }

  /**
   * Resolves a hostPaths source: symlinks followed, then it must lie under one allowed source
   * (allowlist entries are resolved too, so an allowed directory may itself be a symlink).
   */
  public Path allowedSource(String source) {
    return allowed(source, "hostPaths path");
  }

  /**
   * Resolves an archive given as a path on the node: the same allowlist as hostPaths, so that an
   * archive source cannot read what a hostPath may not (say /etc/shadow as a "tar").
   */
  public Path allowedArchive(String source) {
    return allowed(source, "archive");
  }

  private boolean underAllowed(Path path) {
    for (Path a : allowedSources) {
      try {
        if (path.startsWith(a.toRealPath())) return true;
      } catch (IOException ignored) {
        // An allowlist entry that does not exist allows nothing.
      }
    }
    return false;
  }

  private DiskException notAllowed(String what, String source) {
    return new DiskException(
        ErrorCode.SourceNotAllowed,
        what
            + " '"
            + source
            + "' is not under a source the node's admin allows "
            + allowedSources
            + ": ask the admin to allow it (--allow-source; with the Helm chart agent.allowSources)"
            + " or use an allowed directory");
  }

  private Path allowed(String source, String what) {
    Path given = Path.of(source);
    if (!given.isAbsolute()) {
      throw new DiskException(
          ErrorCode.SourceNotAllowed, what + " '" + source + "' must be absolute");
    }
    Path real;
    try {
      real = given.toRealPath();
    } catch (IOException e) {
      // Outside the allowlist a missing path reads as any other refused one (no probing of what
      // exists on dom0). Inside it, under Helm only the allowed directories are mounted into the
      // agent, so the user learns what to set rather than that the file is missing.
      if (!underAllowed(given.normalize())) throw notAllowed(what, source);
      throw new DiskException(
          ErrorCode.SourceNotAllowed,
          what
              + " '"
              + source
              + "' does not exist under the sources the node's admin allows "
              + allowedSources
              + " as the agent sees them: put it there, or ask the admin to allow its directory"
              + " (--allow-source; with the Helm chart agent.allowSources, which also mounts it"
              + " into the agent)");
    }
    // The resolved path is not echoed: it would map dom0's links for a tenant.
    if (!underAllowed(real)) throw notAllowed(what, source);
    for (Path kept : protectedPaths) {
      Path k = realOrSelf(kept);
      if (real.startsWith(k) || k.startsWith(real)) {
        throw new DiskException(
            ErrorCode.SourceNotAllowed,
            what
                + " '"
                + source
                + "' "
                + (real.startsWith(k) ? "lies inside" : "contains")
                + " what the agent keeps to itself (its images root,"
                + " token, TLS key or state): name a directory that holds none of them");
      }
    }
    return real;
  }

  /**
   * The root as the kernel names it: /proc/PID/fd, a loop device's backing_file and mountinfo show
   * real paths, so an images root reached through a link (/var/lib/xen/images -> /srv/...) would
   * otherwise never match them and every in-use check would see nothing. The part that does not
   * exist yet is kept as given under its nearest existing (real) ancestor.
   */
  static Path real(Path p) {
    Path abs = p.toAbsolutePath().normalize();
    Path existing = abs;
    while (existing != null && !Files.exists(existing)) existing = existing.getParent();
    if (existing == null) return abs;
    try {
      return existing.toRealPath().resolve(existing.relativize(abs)).normalize();
    } catch (IOException e) {
      return abs;
    }
  }

  private static Path realOrSelf(Path p) {
    try {
      return p.toRealPath();
    } catch (IOException e) {
      return p;
    }
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
      throw DiskException.invalid(
          "path '" + guestPath + "' leaves the image: use an absolute path without '..'");
    }
    try {
      Path realTree = tree.toRealPath();
      Path existing = target;
      while (existing != null && !Files.exists(existing, LinkOption.NOFOLLOW_LINKS))
        existing = existing.getParent();
      if (existing != null && !existing.toRealPath().startsWith(realTree)) {
        throw DiskException.invalid(
            "path '"
                + guestPath
                + "' goes through a symbolic link that points outside the"
                + " image ("
                + existing
                + " -> "
                + existing.toRealPath()
                + "): choose another path or fix the image content");
      }
    } catch (NoSuchFileException e) {
      throw DiskException.invalid(
          "path '"
              + guestPath
              + "' goes through a dangling symbolic link in the image ("
              + e.getFile()
              + "): choose another path or fix the image content");
    } catch (IOException e) {
      throw new DiskException(
          ErrorCode.CommandFailed,
          "cannot resolve '" + guestPath + "' in the image: " + e.getMessage(),
          e);
    }
    return target;
  }

  /** 12 random hex digits: the unique part of every temporary name the engine makes. */
  static String random() {
    byte[] b = new byte[6];
    RANDOM.nextBytes(b);
    return HexFormat.of().formatHex(b);
  }
}
