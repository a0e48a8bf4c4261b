package io.xenvbd.disk;

import io.xenvbd.api.Populate;
import io.xenvbd.api.Tailor;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardOpenOption;
import java.util.ArrayList;
import java.util.List;

/**
 * Writes a disk's content into an image tree — a staging directory (Offline) or the loop-mounted image
 * (LoopMount) — the same way for both, so the two methods give the same tree: archive, hostPaths,
 * createDirs, then the tailored files.
 */
final class TreeWriter {
  private final CommandRunner runner;
  private final ImagePaths paths;
  private final ArchiveExtractor archives;

  TreeWriter(CommandRunner runner, ImagePaths paths, ArchiveExtractor archives) {
    this.runner = runner;
    this.paths = paths;
    this.archives = archives;
  }

  /** Resolves and checks every source up front, so a refused source fails before anything is built. */
  List<Path> checkSources(Populate p) {
    List<Path> sources = new ArrayList<>();
    for (Populate.HostPath hp : p.hostPaths()) sources.add(paths.allowedSource(hp.path()));
    return sources;
  }

  /** Apparent bytes the sources hold, for progress (du on one filesystem, as cp -x copies). */
  long estimate(List<Path> sources, Path archive) {
    long total = 0;
    for (Path s : sources) total += apparentSize(s);
    if (archive != null) total += archive.toFile().length();
    return Math.max(total, 1);
  }

  void populate(Populate p, List<Path> sources, Path archive, Path tree, Progress progress, long total, long maxBytes) {
    long done = 0;
    if (archive != null) {
      archives.extract(archive, tree, maxBytes);
      done += archive.toFile().length();
      progress.bytes(done, total);
    }
    for (int i = 0; i < sources.size(); i++) {
      Io.checkInterrupted("copying " + sources.get(i));
      Path dst = ImagePaths.insideTree(tree, p.hostPaths().get(i).effectiveTarget());
      long before = done;
      long size = apparentSize(sources.get(i));
      long already = CopyProgress.measure(dst);
      // cp says nothing while it copies: a poller measures what has landed, so a long copy shows progress.
      try (CopyProgress poll = new CopyProgress(dst, bytes ->
          progress.bytes(Math.min(before + Math.max(0, Math.min(bytes - already, size)), total), total))) {
        copy(sources.get(i), dst);
      }
      done += size;
      progress.bytes(Math.min(done, total), total);
    }
    for (String dir : p.createDirs()) {
      mkdirs(ImagePaths.insideTree(tree, dir));
    }
  }

  /** cp -ax into the tree: one filesystem; owners, modes, times, links, devices, xattrs and holes kept. */
  private void copy(Path source, Path dst) {
    if (Files.isDirectory(source)) {
      mkdirs(dst);
      // "source/." merges the directory's content (and its own owner/mode/times) into dst, as cp -ax /etc /mnt does.
      runner.run("cp", "-ax", "--sparse=always", "--reflink=auto", source + "/.", dst.toString());
    } else {
      mkdirs(dst.getParent());
      runner.run("cp", "-ax", "--sparse=always", "--reflink=auto", source.toString(), dst.toString());
    }
  }

  private long apparentSize(Path s) {
    String out = runner.run("du", "-s", "-x", "-B1", "--apparent-size", s.toString()).stdout().strip();
    return Long.parseLong(out.split("\\s+")[0]);
  }

  /** hostname, fstab ({@code self} → UUID=), files with their mode; always into the tree, never into dom0. */
  void tailor(Tailor t, String uuid, Path tree) {
    if (t == null) return;
    if (t.hostname() != null && !t.hostname().isEmpty()) write(tree, "/etc/hostname", t.hostname() + "\n", "0644");
    if (!t.fstab().isEmpty()) write(tree, "/etc/fstab", fstab(t, uuid), "0644");
    for (Tailor.File f : t.files()) write(tree, f.path(), f.content(), f.mode());
  }

  static String fstab(Tailor t, String uuid) {
    StringBuilder b = new StringBuilder("# written by xenvbd from the VirtualDisk's spec.tailor.fstab\n");
    for (Tailor.FstabEntry e : t.fstab()) {
      String device = e.device();
      if (Tailor.SELF_DEVICE.equals(device)) {
        if (uuid == null) throw DiskException.invalid("fstab device 'self' needs a filesystem: this disk has none");
        device = "UUID=" + uuid;
      }
      b.append(String.join(" ", device, e.mountPoint(), e.type(), e.options(), e.dump().toString(), e.pass().toString()))
          .append('\n');
    }
    return b.toString();
  }

  private void write(Path tree, String guestPath, String content, String mode) {
    Path guest = Path.of(guestPath).normalize();
    if (guest.getFileName() == null) throw DiskException.invalid("tailor file path '" + guestPath + "' names no file");
    Path parent = ImagePaths.insideTree(tree, guest.getParent().toString());
    Path file = parent.resolve(guest.getFileName().toString());
    try {
      // "Replacing what is there": a symlink in the way is replaced, never written through.
      if (Files.isSymbolicLink(file)) Files.delete(file);
    } catch (IOException e) {
      throw Io.wrap(e, "replacing the symbolic link " + guestPath + " in the image");
    }
    mkdirs(file.getParent());
    try {
      Files.writeString(file, content, StandardOpenOption.CREATE, StandardOpenOption.TRUNCATE_EXISTING,
          StandardOpenOption.WRITE);
    } catch (IOException e) {
      throw Io.wrap(e, "writing " + guestPath + " into the image");
    }
    runner.run("chmod", mode, file.toString());
  }

  static void mkdirs(Path dir) {
    try {
      Files.createDirectories(dir);
    } catch (IOException e) {
      throw Io.wrap(e, "creating directory " + dir);
    }
  }
}
