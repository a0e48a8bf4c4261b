package io.xenvbd.disk;

import java.io.IOException;
import java.io.InputStream;
import java.nio.charset.StandardCharsets;
import java.nio.file.Path;
import java.util.HashSet;
import java.util.Set;
import org.apache.commons.compress.archivers.tar.TarArchiveEntry;
import org.apache.commons.compress.archivers.tar.TarArchiveStructSparse;

/**
 * Refuses a hostile tar archive before anything is extracted. Entries that could land outside the
 * image tree ("tar slip"): absolute names, {@code ..} components, symbolic links that climb out of
 * the tree, hard links to names outside it, and entries placed under a symbolic link of the same
 * archive (extracting through such a link would write wherever it points). Bombs: more data than
 * the disk holds, more entries than it has room for, absurd names. The archive is read by {@link
 * StrictTarInputStream}, which makes sure GNU tar will see the same entries and bounds memory.
 */
final class TarSafety {
  static final int MAX_PATH_BYTES = 4096;
  static final int MAX_COMPONENT_BYTES = 255;

  /**
   * Every entry costs an inode and usually a block: one entry per 4 KiB of disk, but never fewer
   * than this.
   */
  static final long MIN_ENTRIES = 4096;

  static final long BYTES_PER_ENTRY = 4096;
  private static final long BLOCK = 4096;

  private TarSafety() {}

  /**
   * Reads every entry; refuses more than {@code maxBytes} unpacked (at the first header that
   * crosses it, before its data is read). Returns the bytes the entries unpack to (for progress).
   */
  static long check(InputStream tar, long maxBytes) throws IOException {
    long maxEntries = Math.max(MIN_ENTRIES, maxBytes / BYTES_PER_ENTRY);
    long total = 0;
    long entries = 0;
    Set<String> symlinks = new HashSet<>();
    StrictTarInputStream in = StrictTarInputStream.over(tar);
    try {
      TarArchiveEntry e;
      while ((e = in.nextChecked()) != null) {
        if (++entries > maxEntries) {
          throw DiskException.invalid(
              "archive has more than "
                  + maxEntries
                  + " entries, more than a disk of "
                  + maxBytes
                  + " bytes has room for: make spec.size larger or pack fewer files");
        }
        checkPaths(e, symlinks);
        total = plus(total, unpacked(e));
        if (total > maxBytes) {
          throw DiskException.invalid(
              "archive unpacks to more than the disk's "
                  + maxBytes
                  + " bytes (entry '"
                  + shown(e.getName())
                  + "' crosses it): make spec.size larger or the archive smaller");
        }
      }
      in.finish();
    } catch (IOException ex) {
      if (in.sourceFailed()) throw ex;
      throw DiskException.invalid(
          "archive is not a tar archive that can be read ("
              + ex.getMessage()
              + "): give a tar archive, plain or compressed with gzip, xz, zstd or bzip2");
    }
    return total;
  }

  /**
   * The bytes extracting an entry can allocate. For a GNU or PAX sparse entry that is the data
   * really stored, not its apparent size: GNU tar writes each stored chunk at its offset and seeks
   * over the holes, and a filesystem allocates only the blocks a write touches. Each chunk is
   * charged every 4 KiB block it touches, so a map of one-byte chunks 4 KiB apart costs what it
   * would allocate.
   */
  static long unpacked(TarArchiveEntry e) {
    long stored = Math.max(0, e.getSize());
    if (!e.isSparse()) return stored;
    long blocks = 0;
    for (TarArchiveStructSparse s : e.getSparseHeaders()) {
      if (s.getNumbytes() <= 0) continue;
      long first = s.getOffset() / BLOCK;
      long last = (plus(s.getOffset(), s.getNumbytes()) - 1) / BLOCK;
      blocks = plus(blocks, last - first + 1);
    }
    return Math.max(stored, blocks > Long.MAX_VALUE / BLOCK ? Long.MAX_VALUE : blocks * BLOCK);
  }

  /** Sums of sizes a hostile header chose: saturate, never wrap around to a small number. */
  private static long plus(long a, long b) {
    return b > Long.MAX_VALUE - a ? Long.MAX_VALUE : a + b;
  }

  private static void checkPaths(TarArchiveEntry e, Set<String> symlinks) {
    String name = e.getName();
    checkName(name, name, true);
    Path p = relative(name, "entry");
    Path under = symlinkAbove(p, symlinks);
    if (under != null) {
      throw refused(name, "is placed under the symbolic link '" + under + "' of the same archive");
    }
    if (symlinks.contains(p.toString())) {
      throw refused(name, "replaces a symbolic link of the same archive");
    }
    if (e.isSymbolicLink()) {
      String target = e.getLinkName();
      checkName(name, target, false);
      // An absolute target is resolved by the guest against the image root, so it stays inside; the
      // engine itself never writes through one (ImagePaths.insideTree).
      if (!target.startsWith("/") && escapes(p, target)) {
        throw refused(
            name, "is a symbolic link to '" + shown(target) + "', which points outside the image");
      }
      symlinks.add(p.toString());
    } else if (e.isLink()) {
      checkName(name, e.getLinkName(), false);
      Path target = relative(e.getLinkName(), "hard link target of '" + shown(name) + "'");
      Path through = symlinkAbove(target, symlinks);
      if (through != null) {
        throw refused(
            name,
            "is a hard link to '"
                + shown(e.getLinkName())
                + "', which lies under the symbolic link '"
                + through
                + "' of the same archive");
      }
      // link(2) does not follow a symbolic link: a hard link to one is a second symbolic link, and
      // what the archive places under it goes where that link points.
      if (symlinks.contains(target.toString())) symlinks.add(p.toString());
    }
  }

  /** The nearest directory above {@code p} that the archive made a symbolic link, or null. */
  private static Path symlinkAbove(Path p, Set<String> symlinks) {
    for (Path parent = p.getParent(); parent != null; parent = parent.getParent()) {
      if (symlinks.contains(parent.toString())) return parent;
    }
    return null;
  }

  /** NUL ends a name for GNU tar but not for commons; Linux refuses longer paths and components. */
  private static void checkName(String entry, String name, boolean components) {
    if (name.indexOf('\0') >= 0) {
      throw absurd(
          entry, "has a NUL byte in its name or link target, which tar readers cut differently");
    }
    String trimmed = name.endsWith("/") ? name.substring(0, name.length() - 1) : name;
    if (trimmed.getBytes(StandardCharsets.UTF_8).length > MAX_PATH_BYTES) {
      throw absurd(entry, "has a name or link target longer than " + MAX_PATH_BYTES + " bytes");
    }
    if (!components) return;
    for (String part : trimmed.split("/")) {
      if (part.getBytes(StandardCharsets.UTF_8).length > MAX_COMPONENT_BYTES) {
        throw absurd(entry, "has a path component longer than " + MAX_COMPONENT_BYTES + " bytes");
      }
    }
  }

  /**
   * Walks a relative link target from the link's directory; true if it climbs above the tree root.
   */
  static boolean escapes(Path link, String target) {
    int depth = link.getNameCount() - 1;
    for (String part : target.split("/")) {
      if (part.isEmpty() || part.equals(".")) continue;
      depth += part.equals("..") ? -1 : 1;
      if (depth < 0) return true;
    }
    return false;
  }

  private static Path relative(String name, String what) {
    if (name.startsWith("/")) throw refused(name, "is an absolute " + what + " name");
    String stripped = name.startsWith("./") ? name.substring(2) : name;
    for (String part : stripped.split("/")) {
      if (part.equals("..")) throw refused(name, "has a '..' component");
    }
    Path p = Path.of(stripped.isEmpty() ? "." : stripped).normalize();
    return p.toString().isEmpty() ? Path.of(".") : p;
  }

  /** A name as an error message may quote it: short, and no control characters. */
  static String shown(String name) {
    String s = name.length() > 120 ? name.substring(0, 120) + "..." : name;
    return s.replaceAll("\\p{Cntrl}", "?");
  }

  private static DiskException refused(String name, String why) {
    return DiskException.invalid(
        "archive entry '"
            + shown(name)
            + "' "
            + why
            + ": refused so that nothing is written outside the image; repack the archive with relative paths inside it");
  }

  private static DiskException absurd(String name, String why) {
    return DiskException.invalid(
        "archive entry '" + shown(name) + "' " + why + ": repack the archive with real file names");
  }
}
