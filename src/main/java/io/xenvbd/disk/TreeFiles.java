package io.xenvbd.disk;

import io.xenvbd.api.SpecRules;
import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.channels.SeekableByteChannel;
import java.nio.charset.StandardCharsets;
import java.nio.file.FileAlreadyExistsException;
import java.nio.file.Files;
import java.nio.file.LinkOption;
import java.nio.file.NoSuchFileException;
import java.nio.file.Path;
import java.nio.file.StandardCopyOption;
import java.nio.file.StandardOpenOption;
import java.nio.file.attribute.BasicFileAttributes;
import java.nio.file.attribute.PosixFilePermissions;
import java.util.ArrayList;
import java.util.List;
import java.util.Set;
import java.util.regex.Pattern;

/**
 * The engine's own writes into an image tree (tailored files, createDirs, the directories hostPaths
 * copy into). The tree holds what a tenant's archive or a guest put there, so nothing here follows
 * a link or opens an entry that exists: every directory on the way is checked with lstat to be a
 * real directory (a link is refused, never resolved), and a file is replaced by writing a new file
 * under a fresh name ({@code O_CREAT|O_EXCL}) and renaming it over the old entry. rename(2)
 * replaces a directory entry whatever it is (file, symbolic link, FIFO, device node, socket)
 * without opening it, so a device node cannot be written, a FIFO cannot block, and a link cannot
 * redirect the write. Nothing else runs in the tree while the engine writes, so what lstat saw is
 * what rename replaces.
 */
final class TreeFiles {
  private static final Pattern MODE = Pattern.compile("^[0-7]{3,4}$");

  private TreeFiles() {}

  /**
   * The components of an absolute guest path; refuses '..', control characters (a newline would end
   * a line of a debugfs script) and relative paths.
   */
  static List<String> components(String guestPath) {
    if (guestPath == null
        || !guestPath.startsWith("/")
        || guestPath.chars().anyMatch(c -> c < 0x20 || c == 0x7f)) {
      throw DiskException.invalid(
          "path "
              + SpecRules.quote(String.valueOf(guestPath))
              + " must be an absolute path"
              + " inside the image without control characters, such as /etc/motd");
    }
    List<String> parts = new ArrayList<>();
    for (String part : guestPath.split("/")) {
      if (part.isEmpty() || part.equals(".")) continue;
      if (part.equals("..")) {
        throw DiskException.invalid(
            "path '" + guestPath + "' has a '..' component: use an absolute path without '..'");
      }
      parts.add(part);
    }
    return parts;
  }

  /**
   * The host path of directory {@code guestDir} of the tree, made (mode 0755, owned by root) where
   * missing; refused when anything on the way is a link or not a directory.
   */
  static Path directory(Path tree, String guestDir) {
    return directory(tree, components(guestDir), guestDir);
  }

  private static Path directory(Path tree, List<String> parts, String guestPath) {
    Path dir = tree;
    StringBuilder shown = new StringBuilder();
    for (String part : parts) {
      dir = dir.resolve(part);
      shown.append('/').append(part);
      BasicFileAttributes a = lstat(dir);
      if (a == null) {
        try {
          Files.createDirectory(dir); // mkdir(2): never follows a link that appeared at this name
          Files.setPosixFilePermissions(dir, PosixFilePermissions.fromString("rwxr-xr-x"));
        } catch (IOException e) {
          throw Io.wrap(e, "creating directory " + shown + " in the image");
        }
      } else if (a.isSymbolicLink()) {
        throw throughLink(shown.toString(), guestPath);
      } else if (!a.isDirectory()) {
        throw notADirectory(shown.toString(), guestPath);
      }
    }
    return dir;
  }

  /** The refusal of a directory on the way to {@code guestPath} that is a symbolic link. */
  static DiskException throughLink(String shown, String guestPath) {
    return DiskException.invalid(
        "'"
            + shown
            + "' in the image is a symbolic link, and xenvbd never writes through"
            + " links in a disk's content: make "
            + shown
            + " a real directory in the archive, source or cloned disk,"
            + " or write '"
            + guestPath
            + "' elsewhere");
  }

  /** The refusal of an entry on the way to {@code guestPath} that is no directory. */
  static DiskException notADirectory(String shown, String guestPath) {
    return DiskException.invalid(
        "'"
            + shown
            + "' in the image is not a directory, so '"
            + guestPath
            + "' cannot be written: remove it from the archive, source or cloned disk, or write"
            + " elsewhere");
  }

  /** The refusal of a file to write where the image has a directory. */
  static DiskException isADirectory(String guestPath) {
    return DiskException.invalid(
        "'"
            + guestPath
            + "' is a directory in the image: remove it from the archive, source"
            + " or cloned disk, or write the file elsewhere");
  }

  /**
   * Octal digits only: a mode never reaches a tool as an option or a word of the tenant's choosing.
   */
  static void checkMode(String mode, String guestPath) {
    if (mode == null || !MODE.matcher(mode).matches()) {
      throw DiskException.invalid(
          "file mode '" + mode + "' of '" + guestPath + "' is not an octal mode such as 0644");
    }
  }

  /**
   * Replaces whatever entry is at {@code guestPath} with a regular file of {@code content} and
   * octal {@code mode}.
   */
  static void replaceFile(Path tree, String guestPath, String content, String mode) {
    checkMode(mode, guestPath);
    List<String> parts = components(guestPath);
    if (parts.isEmpty())
      throw DiskException.invalid(
          "path '" + guestPath + "' names no file: give a file path such as /etc/motd");
    Path dir = directory(tree, parts.subList(0, parts.size() - 1), guestPath);
    Path file = dir.resolve(parts.get(parts.size() - 1));
    BasicFileAttributes existing = lstat(file);
    if (existing != null && existing.isDirectory()) throw isADirectory(guestPath);
    Path temp = dir.resolve(".xenvbd-" + ImagePaths.random() + ".tmp");
    try {
      try (SeekableByteChannel ch =
          Files.newByteChannel(
              temp,
              Set.of(
                  StandardOpenOption.CREATE_NEW,
                  StandardOpenOption.WRITE,
                  LinkOption.NOFOLLOW_LINKS))) {
        ByteBuffer b = ByteBuffer.wrap(content.getBytes(StandardCharsets.UTF_8));
        while (b.hasRemaining()) ch.write(b);
      }
      // The fresh file is ours (O_EXCL); opened O_NOFOLLOW and fchmod'ed (setuid/setgid/sticky
      // bits too), with no chmod process per file.
      Files.setAttribute(temp, "unix:mode", Integer.parseInt(mode, 8), LinkOption.NOFOLLOW_LINKS);
      Files.move(temp, file, StandardCopyOption.ATOMIC_MOVE, StandardCopyOption.REPLACE_EXISTING);
    } catch (FileAlreadyExistsException e) {
      throw new DiskException(
          ErrorCode.CommandFailed,
          "a temporary name in " + parentShown(guestPath) + " of the image was taken: retry",
          e);
    } catch (IOException e) {
      throw Io.wrap(e, "writing " + guestPath + " into the image");
    } finally {
      try {
        Files.deleteIfExists(temp);
      } catch (IOException ignored) {
        // left in the image's tree only; the image is not published after a failure
      }
    }
  }

  /** lstat: null when nothing is there. */
  static BasicFileAttributes lstat(Path p) {
    try {
      return Files.readAttributes(p, BasicFileAttributes.class, LinkOption.NOFOLLOW_LINKS);
    } catch (NoSuchFileException e) {
      return null;
    } catch (IOException e) {
      throw Io.wrap(e, "reading " + p);
    }
  }

  private static String parentShown(String guestPath) {
    int i = guestPath.lastIndexOf('/');
    return i <= 0 ? "/" : guestPath.substring(0, i);
  }
}
