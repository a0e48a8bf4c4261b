package io.xenvbd.tls;

import java.io.IOException;
import java.io.InputStream;
import java.nio.file.Files;
import java.nio.file.LinkOption;
import java.nio.file.NoSuchFileException;
import java.nio.file.Path;
import java.nio.file.attribute.BasicFileAttributes;

/**
 * A credential file read as hostile input, at start and after every change: its real path (symbolic
 * links resolved, as the kubelet's {@code <key> -> ..data/<key>} and {@code ..data ->
 * ..<timestamp>} links need) must stay inside the directory the file was named in, it must be a
 * regular file (no FIFO, device or directory) with one link, and no more than a limit is read.
 */
public final class ConfinedFile {
  private ConfinedFile() {}

  /**
   * The bytes of {@code file}, which must resolve (links followed) to a regular file with one link
   * inside the directory it is named in, of at most {@code maxBytes}.
   */
  public static byte[] read(Path file, long maxBytes) throws IOException {
    Path named = file.toAbsolutePath().normalize();
    Path dir = named.getParent();
    Path real;
    Path realDir;
    try {
      realDir = dir.toRealPath();
      real = named.toRealPath();
    } catch (NoSuchFileException e) {
      throw new IOException(named + " does not exist: put the file there", e);
    }
    if (!real.startsWith(realDir) || real.equals(realDir)) {
      throw new IOException(
          named
              + " leads to "
              + real
              + ", outside its directory "
              + realDir
              + ": put the file itself (or a link within the directory, as a mounted Secret has) there");
    }
    BasicFileAttributes attrs =
        Files.readAttributes(real, BasicFileAttributes.class, LinkOption.NOFOLLOW_LINKS);
    if (!attrs.isRegularFile()) {
      throw new IOException(
          named + " is not a regular file (a directory, device or FIFO): put a plain file there");
    }
    Object links = Files.getAttribute(real, "unix:nlink", LinkOption.NOFOLLOW_LINKS);
    if (links instanceof Integer n && n > 1) {
      throw new IOException(
          named + " has " + n + " hard links: give a file of its own, not a link to another");
    }
    if (attrs.size() > maxBytes) {
      throw new IOException(
          named + " is larger than " + maxBytes + " bytes: it must hold only its credential");
    }
    try (InputStream in = Files.newInputStream(real, LinkOption.NOFOLLOW_LINKS)) {
      byte[] bytes = in.readNBytes((int) maxBytes + 1);
      if (bytes.length > maxBytes)
        throw new IOException(
            named + " is larger than " + maxBytes + " bytes: it must hold only its credential");
      return bytes;
    }
  }
}
