package io.xenvbd.disk;

import java.io.IOException;
import java.io.InputStream;
import java.nio.file.Path;
import java.util.HashSet;
import java.util.Set;
import org.apache.commons.compress.archivers.tar.TarArchiveEntry;
import org.apache.commons.compress.archivers.tar.TarArchiveInputStream;

/**
 * Refuses a tar archive whose entries could land outside the image tree ("tar slip") before anything
 * is extracted: absolute names, {@code ..} components, symbolic links that climb out of the tree,
 * hard links to names outside it, and entries placed under a symbolic link of the same archive
 * (extracting through such a link would write wherever it points).
 */
final class TarSafety {
  private TarSafety() {}

  /** Reads every entry; refuses more than {@code maxBytes} unpacked; returns the sum of entry sizes (for progress). */
  static long check(InputStream tar, long maxBytes) throws IOException {
    long total = 0;
    Set<String> symlinks = new HashSet<>();
    TarArchiveInputStream in = new TarArchiveInputStream(tar);
    TarArchiveEntry e;
    while ((e = in.getNextEntry()) != null) {
      String name = e.getName();
      Path p = relative(name, "entry");
      for (Path parent = p.getParent(); parent != null; parent = parent.getParent()) {
        if (symlinks.contains(parent.toString())) {
          throw refused(name, "is placed under the symbolic link '" + parent + "' of the same archive");
        }
      }
      if (symlinks.contains(p.toString())) {
        throw refused(name, "replaces a symbolic link of the same archive");
      }
      if (e.isSymbolicLink()) {
        String target = e.getLinkName();
        // An absolute target is resolved by the guest against the image root, so it stays inside; the
        // engine itself never writes through one (ImagePaths.insideTree).
        if (!target.startsWith("/") && escapes(p, target)) {
          throw refused(name, "is a symbolic link to '" + target + "', which points outside the image");
        }
        symlinks.add(p.toString());
      } else if (e.isLink()) {
        relative(e.getLinkName(), "hard link target of '" + name + "'");
      }
      total += Math.max(0, e.getSize());
    }
    return total;
  }

  /** Walks a relative link target from the link's directory; true if it climbs above the tree root. */
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

  private static DiskException refused(String name, String why) {
    return DiskException.invalid("archive entry '" + name + "' " + why
        + ": refused so that nothing is written outside the image; repack the archive with relative paths inside it");
  }
}
