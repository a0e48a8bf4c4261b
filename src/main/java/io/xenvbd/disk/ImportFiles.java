package io.xenvbd.disk;

import java.io.IOException;
import java.nio.file.AtomicMoveNotSupportedException;
import java.nio.file.Files;
import java.nio.file.LinkOption;
import java.nio.file.NoSuchFileException;
import java.nio.file.Path;
import java.nio.file.StandardCopyOption;
import java.util.Map;

/**
 * The checks and moves of a file taken from the import directory: looked at with lstat only (never
 * opened, never followed), required to be a regular file with one link on the images root's
 * filesystem, moved with rename(2) only, and put back where it was when it is refused.
 */
final class ImportFiles {
  private ImportFiles() {}

  static Map<String, Object> lstat(Path p, String file) {
    try {
      return Files.readAttributes(p, "unix:mode,nlink,dev,ino,uid,gid", LinkOption.NOFOLLOW_LINKS);
    } catch (NoSuchFileException e) {
      throw new DiskException(
          ErrorCode.NotFound,
          "the import directory has no file "
              + file
              + ": ask the node's"
              + " admin to put it there, or check spec.populate.adopt.importFile");
    } catch (IOException e) {
      throw Io.wrap(e, "reading the import file " + file);
    }
  }

  static void requireLoneRegularFile(Map<String, Object> a, String file) {
    int type = (Integer) a.get("mode") & 0170000;
    if (type != 0100000) {
      String kind =
          switch (type) {
            case 0120000 -> "a symbolic link";
            case 0040000 -> "a directory";
            case 0010000 -> "a FIFO";
            case 0060000 -> "a block device";
            case 0020000 -> "a character device";
            case 0140000 -> "a socket";
            default -> "not a regular file";
          };
      throw new DiskException(
          ErrorCode.SourceNotAllowed,
          "the import file "
              + file
              + " is "
              + kind
              + ", not a regular"
              + " file: only an image file itself can be adopted; ask the node's admin to put the file there, not a link"
              + " or a special file");
    }
    if ((Integer) a.get("nlink") != 1) {
      throw new DiskException(
          ErrorCode.SourceNotAllowed,
          "the import file "
              + file
              + " has "
              + a.get("nlink")
              + " hard links: it is also another file of this node, which adoption would hand to a guest; ask the node's"
              + " admin to copy it (cp --sparse=always) or remove the other links");
    }
  }

  static void requireSameFilesystem(Path root, Map<String, Object> a, String file) {
    Object rootDev;
    try {
      rootDev = Files.getAttribute(root, "unix:dev", LinkOption.NOFOLLOW_LINKS);
    } catch (IOException e) {
      throw Io.wrap(e, "reading the images root " + root);
    }
    if (!rootDev.equals(a.get("dev"))) {
      throw new DiskException(
          ErrorCode.SourceNotAllowed,
          "the import file "
              + file
              + " is on another filesystem than"
              + " the images root "
              + root
              + ", and adoption moves a file, never copies it: ask the node's admin"
              + " to put the import directory on the images root's filesystem (--import-dir)");
    }
  }

  /**
   * The adopted file belongs to whoever owns the images root, readable by nobody else (its mode
   * only changes).
   */
  static void takeOwnership(Path root, Path image) {
    try {
      Map<String, Object> owner =
          Files.readAttributes(root, "unix:uid,gid", LinkOption.NOFOLLOW_LINKS);
      Map<String, Object> file =
          Files.readAttributes(image, "unix:uid,gid", LinkOption.NOFOLLOW_LINKS);
      if (!owner.get("uid").equals(file.get("uid")))
        Files.setAttribute(image, "unix:uid", owner.get("uid"), LinkOption.NOFOLLOW_LINKS);
      if (!owner.get("gid").equals(file.get("gid")))
        Files.setAttribute(image, "unix:gid", owner.get("gid"), LinkOption.NOFOLLOW_LINKS);
      Formatter.privateFile(image);
    } catch (IOException e) {
      throw Io.wrap(e, "taking over " + image);
    }
  }

  /**
   * A refused import goes back where the admin put it (unless something new took its name
   * meanwhile).
   */
  static void putBack(Path parked, Path source) {
    Uninterruptible.run(
        "put back",
        () -> {
          try {
            if (Files.exists(parked, LinkOption.NOFOLLOW_LINKS)
                && !Files.exists(source, LinkOption.NOFOLLOW_LINKS)) {
              Files.move(parked, source, StandardCopyOption.ATOMIC_MOVE);
            }
          } catch (IOException ignored) {
            // the agent puts it back at its next start
          }
        });
  }

  static void move(Path from, Path to) {
    try {
      Files.move(from, to, StandardCopyOption.ATOMIC_MOVE);
    } catch (AtomicMoveNotSupportedException e) {
      throw new DiskException(
          ErrorCode.SourceNotAllowed,
          "the import file "
              + from.getFileName()
              + " is on another"
              + " filesystem than the images root, and adoption never copies: put the import directory on the images"
              + " root's filesystem");
    } catch (IOException e) {
      throw Io.wrap(e, "moving " + from + " to " + to);
    }
  }
}
