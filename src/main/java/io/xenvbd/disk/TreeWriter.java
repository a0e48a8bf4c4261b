package io.xenvbd.disk;

import io.xenvbd.api.Populate;
import io.xenvbd.api.Sizes;
import io.xenvbd.api.Tailor;
import java.nio.file.Files;
import java.nio.file.LinkOption;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;

/**
 * Writes a disk's content into an image tree — a staging directory (Offline) or the loop-mounted
 * image (LoopMount) — the same way for both, so the two methods give the same tree: archive,
 * hostPaths, createDirs, then the tailored files.
 */
final class TreeWriter {
  private final CommandRunner runner;
  private final ImagePaths paths;
  private final ArchiveExtractor archives;
  private final Sandbox sandbox;

  TreeWriter(CommandRunner runner, ImagePaths paths, ArchiveExtractor archives, Sandbox sandbox) {
    this.runner = runner;
    this.paths = paths;
    this.archives = archives;
    this.sandbox = sandbox;
  }

  /**
   * Resolves and checks every source up front, so a refused source fails before anything is built.
   */
  List<Path> checkSources(Populate p) {
    List<Path> sources = new ArrayList<>();
    for (Populate.HostPath hp : p.hostPaths()) sources.add(paths.allowedSource(hp.path()));
    return sources;
  }

  /**
   * Archive, hostPaths, createDirs into {@code tree}, reporting bytes against the apparent size of
   * the sources (one du per source, on one filesystem as cp -x copies) and the archive's length.
   */
  void populate(
      Populate p, List<Path> sources, Path archive, Path tree, Progress progress, long maxBytes) {
    long[] sizes = new long[sources.size()];
    long total = archive != null ? archive.toFile().length() : 0;
    for (int i = 0; i < sizes.length; i++) total += sizes[i] = apparentSize(sources.get(i));
    total = Math.max(total, 1);
    long done = 0;
    if (archive != null) {
      archives.extract(archive, tree, maxBytes);
      done += archive.toFile().length();
      progress.bytes(Math.min(done, total), total);
    }
    for (int i = 0; i < sources.size(); i++) {
      Io.checkInterrupted("copying " + sources.get(i));
      String target = p.hostPaths().get(i).effectiveTarget();
      long before = done;
      long size = sizes[i];
      long all = total;
      Path dst = destination(tree, sources.get(i), target);
      long already = CopyProgress.measure(dst);
      // cp says nothing while it copies: a poller measures what has landed, so a long copy shows
      // progress.
      try (CopyProgress poll =
          new CopyProgress(
              dst,
              bytes ->
                  progress.bytes(
                      Math.min(before + Math.max(0, Math.min(bytes - already, size)), all), all))) {
        copy(tree, sources.get(i), dst);
      }
      done += size;
      progress.bytes(Math.min(done, total), total);
    }
    for (String dir : p.createDirs()) TreeFiles.directory(tree, dir);
  }

  /**
   * Refuses sources whose data alone (allocated bytes, as cp --sparse keeps holes) exceeds the
   * disk, before anything is copied: a staging tree must not cost the images root more than the
   * disk's size.
   */
  void checkFits(List<Path> sources, long maxBytes) {
    long allocated = 0;
    for (Path s : sources) {
      allocated +=
          Long.parseLong(
              runner.run("du", "-s", "-x", "-B1", s.toString()).stdout().strip().split("\\s+")[0]);
    }
    if (allocated > maxBytes) {
      throw new DiskException(
          ErrorCode.NoSpace,
          "the hostPaths sources hold "
              + Sizes.human(allocated)
              + " of data, more than the disk's "
              + Sizes.human(maxBytes)
              + ": make spec.size larger or copy less");
    }
  }

  /**
   * The host path a source lands on: a directory's content merges into target, a file becomes
   * target.
   */
  private static Path destination(Path tree, Path source, String target) {
    if (Files.isDirectory(source)) return TreeFiles.directory(tree, target);
    List<String> parts = TreeFiles.components(target);
    if (parts.isEmpty())
      throw DiskException.invalid(
          "hostPaths target '" + target + "' of the file " + source + " names no file");
    Path parent =
        TreeFiles.directory(tree, "/" + String.join("/", parts.subList(0, parts.size() - 1)));
    return parent.resolve(parts.get(parts.size() - 1));
  }

  /**
   * cp -ax in the sandbox: one filesystem; owners, modes, times, links, devices, xattrs and holes
   * kept. --remove-destination: an entry the tree already has (from the archive or a cloned disk)
   * is unlinked and made anew, never opened, so a FIFO or device node there is neither blocked on
   * nor written.
   */
  private void copy(Path tree, Path source, Path dst) {
    boolean dir = Files.isDirectory(source, LinkOption.NOFOLLOW_LINKS);
    String checked = Sandbox.devIno(source);
    // "source/." merges the directory's content (and its own owner/mode/times) into dst, as cp -ax
    // /etc /mnt does.
    List<String> cp =
        List.of(
            "cp",
            "-ax",
            "--sparse=always",
            "--reflink=auto",
            "--remove-destination",
            dir ? "/source/." : "/source",
            Sandbox.inTree(tree, dst));
    CommandRunner.Result r =
        sandbox.exec(
            tree,
            List.of(new Sandbox.ReadOnly(source, "/source")),
            Sandbox.guarded("/source", checked, cp),
            cp);
    if (r.exitCode() == Sandbox.SOURCE_CHANGED) {
      throw new DiskException(
          ErrorCode.SourceNotAllowed,
          "hostPaths path "
              + source
              + " was replaced while the disk was built (a link put in its place?): nothing was"
              + " copied; make sure no one else writes the allowed directory, and retry");
    }
    if (!r.ok()) throw CommandRunner.failure(r);
  }

  private long apparentSize(Path s) {
    String out =
        runner.run("du", "-s", "-x", "-B1", "--apparent-size", s.toString()).stdout().strip();
    return Long.parseLong(out.split("\\s+")[0]);
  }

  /**
   * hostname, fstab ({@code self} → UUID=), files with their mode; always into the tree, never into
   * dom0.
   */
  void tailor(Tailor t, String uuid, Path tree) {
    for (Tailor.File f : tailoredFiles(t, uuid))
      TreeFiles.replaceFile(tree, f.path(), f.content(), f.mode());
  }

  /** The files tailoring writes, in order: /etc/hostname, /etc/fstab, then spec.tailor.files. */
  static List<Tailor.File> tailoredFiles(Tailor t, String uuid) {
    List<Tailor.File> files = new ArrayList<>();
    if (t == null) return files;
    if (t.hostname() != null && !t.hostname().isEmpty())
      files.add(new Tailor.File("/etc/hostname", t.hostname() + "\n", "0644"));
    if (!t.fstab().isEmpty()) files.add(new Tailor.File("/etc/fstab", fstab(t, uuid), "0644"));
    files.addAll(t.files());
    return files;
  }

  static String fstab(Tailor t, String uuid) {
    StringBuilder b =
        new StringBuilder("# written by xenvbd from the VirtualDisk's spec.tailor.fstab\n");
    for (Tailor.FstabEntry e : t.fstab()) {
      String device = e.device();
      if (Tailor.SELF_DEVICE.equals(device)) {
        if (uuid == null)
          throw DiskException.invalid("fstab device 'self' needs a filesystem: this disk has none");
        device = "UUID=" + uuid;
      }
      b.append(
              String.join(
                  " ",
                  device,
                  e.mountPoint(),
                  e.type(),
                  e.options(),
                  e.dump().toString(),
                  e.pass().toString()))
          .append('\n');
    }
    return b.toString();
  }
}
