package io.xenvbd.disk;

import io.xenvbd.api.Populate;
import io.xenvbd.api.VirtualDiskSpec;
import io.xenvbd.api.VirtualDiskSpec.Filesystem;
import io.xenvbd.api.VirtualDiskStatus;
import io.xenvbd.api.VirtualDiskStatus.CloneMethod;
import java.io.IOException;
import java.nio.file.DirectoryIteratorException;
import java.nio.file.DirectoryStream;
import java.nio.file.Files;
import java.nio.file.LinkOption;
import java.nio.file.NoSuchFileException;
import java.nio.file.Path;
import java.nio.file.SecureDirectoryStream;
import java.nio.file.attribute.BasicFileAttributeView;
import java.nio.file.attribute.BasicFileAttributes;
import java.time.Duration;
import java.time.Instant;
import java.util.ArrayList;
import java.util.List;
import java.util.UUID;

/**
 * One build: create, format, populate, tailor, check, publish — all on a temporary name. Whatever
 * fails (or interrupts) on the way, every temporary file, staging tree, mount and loop device of
 * this build is removed before the error leaves, so only a complete image is ever published.
 */
final class ImageBuilder {
  private final CommandRunner runner;
  private final ImagePaths paths;
  private final Formatter formatter;
  private final TreeWriter trees;
  private final ArchiveExtractor archives;
  private final LoopMounter mounter;
  private final Publisher publisher;
  private final Cloner cloner;
  private final DebugfsWriter debugfs;
  private final int loopReserve;

  ImageBuilder(
      CommandRunner runner,
      ImagePaths paths,
      Formatter formatter,
      TreeWriter trees,
      ArchiveExtractor archives,
      LoopMounter mounter,
      Publisher publisher,
      DebugfsWriter debugfs,
      int loopReserve,
      CloneCopies copies) {
    this.runner = runner;
    this.paths = paths;
    this.formatter = formatter;
    this.trees = trees;
    this.archives = archives;
    this.mounter = mounter;
    this.publisher = publisher;
    this.cloner = new Cloner(runner, formatter, mounter, copies);
    this.debugfs = debugfs;
    this.loopReserve = loopReserve;
  }

  /** Builds and publishes; the caller has checked that no image exists under the final name. */
  ImageMetadata build(DiskRequest req, Progress progress) {
    return build(req, progress, null);
  }

  /**
   * {@code remote} not null: the clone's source is fetched from another node first (see {@link
   * RemoteClone}).
   */
  ImageMetadata build(DiskRequest req, Progress progress, RemoteClone remote) {
    VirtualDiskSpec spec = req.spec();
    Filesystem fs = spec.filesystem();
    Populate pop =
        spec.populate() == null ? new Populate(null, null, null, null, null) : spec.populate();
    boolean offline = Methods.offline(fs, pop, mounter.loops().status(), loopReserve);
    Path cloneSource =
        pop.cloneFrom() == null || remote != null
            ? null
            : Methods.cloneSource(paths, publisher, req, pop);
    if (cloneSource != null)
      Guards.refuseAttached(mounter.loops(), mounter.mounts(), cloneSource, "clone");
    List<Path> sources = fs == Filesystem.none ? List.of() : trees.checkSources(pop);
    trees.checkFits(sources, req.sizeBytes());

    Path image = paths.image(req.namespace(), req.name());
    paths.privateDirectory(image.getParent());
    Path temp = paths.tempBeside(image);
    List<Path> temps = new ArrayList<>(); // staging trees and downloads: removed whatever happens
    String uuid = fs == Filesystem.none ? null : UUID.randomUUID().toString();
    CloneMethod cloneMethod = null;
    boolean journalLeftOut = false;
    boolean checked = false;
    // The write-out of an Offline build or a clone, running while it is checked. A fresh LoopMount
    // build's is done when its mount ends: the final sync -f flushes the loop device (an fsync).
    Flush flush = null;
    try {
      progress.stage("Create", 0, 5);
      if (remote != null) cloneSource = fetch(remote, image, req, fs, temps, progress);
      Path archive =
          fs != Filesystem.none && pop.archive() != null
              ? archives.fetch(pop.archive(), req.sizeBytes(), temps::add)
              : null;
      boolean content =
          archive != null || !sources.isEmpty() || !pop.createDirs().isEmpty() || hasTailor(spec);
      if (fs == Filesystem.none) content = false;
      String actualUuid = null; // set where the check ran with the tailoring, in one sandbox run
      if (cloneSource != null) {
        cloneMethod = cloner.clone(cloneSource, temp, req, fs, progress, remote != null);
        if (content && offline && archive == null && sources.isEmpty()) {
          // ext2/3/4 with nothing to copy in: debugfs writes the new identity into the image file
          // itself, in one sandbox run of two rounds: the UUID and a look at the paths, then the
          // writes and the check. The copy's write-out runs meanwhile.
          flush = Flush.start(temp);
          progress.stage("Tailor", 75, 80);
          Io.checkInterrupted("tailoring the clone");
          actualUuid =
              Formatter.uuidOf(
                  debugfs.write(
                      temp,
                      pop.createDirs(),
                      TreeWriter.tailoredFiles(spec.tailor(), uuid),
                      temps::add,
                      formatter.newUuidSteps(fs, uuid, false),
                      formatter.checkSteps(fs, req.sizeBytes(), false, true)));
          checked = true;
        } else if (content) {
          formatter.setUuid(temp, fs, uuid);
          writeMounted(temp, pop, sources, archive, spec, req.sizeBytes(), uuid, progress);
          flush = Flush.start(temp);
        } else {
          flush = Flush.start(temp);
          progress.stage("Check", 88, 95);
          Io.checkInterrupted("checking the filesystem");
          actualUuid =
              formatter.checkClone(
                  temp, fs, req.sizeBytes(), formatter.newUuidSteps(fs, uuid, false));
          checked = true;
        }
      } else if (offline && content) {
        formatter.create(temp, req.sizeBytes(), spec.preallocate());
        Path staging = paths.tempUnderRoot("staging");
        temps.add(staging);
        Path tree = mounter.stagingTree(staging);
        writeTree(tree, pop, sources, archive, spec, req.sizeBytes(), uuid, progress);
        progress.stage("Format", 80, 88);
        formatter.format(temp, fs, req.sizeBytes(), uuid, tree, spec.preallocate());
        flush = Flush.start(temp);
      } else {
        formatter.create(temp, req.sizeBytes(), spec.preallocate());
        progress.stage("Format", 5, 10);
        if (content) {
          formatter.formatJournalLater(temp, fs, req.sizeBytes(), uuid, spec.preallocate());
          writeMounted(temp, pop, sources, archive, spec, req.sizeBytes(), uuid, progress);
          journalLeftOut = true; // added with the check below, in the same sandbox run
        } else {
          formatter.format(temp, fs, req.sizeBytes(), uuid, null, spec.preallocate());
        }
      }
      if (!checked) {
        Io.checkInterrupted("checking the filesystem");
        progress.stage("Check", 88, 95);
        actualUuid = formatter.finishAndCheck(temp, fs, req.sizeBytes(), journalLeftOut);
      }
      VirtualDiskStatus.Clone clone =
          cloneMethod == null
              ? null
              : new VirtualDiskStatus.Clone(
                  cloneMethod,
                  cloneMethod == CloneMethod.Reflink ? cloner.sharedBytes(temp) : Long.valueOf(0));
      if (flush != null) flush.await();
      progress.stage("Publish", 95, 100);
      Instant now = Instant.now();
      ImageMetadata meta =
          new ImageMetadata(
              1,
              req.namespace(),
              req.name(),
              req.uid(),
              req.specDigest(),
              fs.name(),
              actualUuid,
              req.sizeBytes(),
              now,
              now,
              clone,
              null);
      publisher.publish(temp, image, paths.metadata(req.namespace(), req.name()), meta);
      progress.done();
      return meta;
    } catch (RuntimeException e) {
      if (flush != null) flush.awaitQuietly();
      cleanup(List.of(temp));
      if (e instanceof DiskException de && de.code() == ErrorCode.Interrupted)
        Thread.currentThread().interrupt();
      throw e;
    } finally {
      cleanup(temps);
    }
  }

  /**
   * The remote source, checked, in a temporary file beside {@code image} that {@code temps}
   * removes.
   */
  private Path fetch(
      RemoteClone remote,
      Path image,
      DiskRequest req,
      Filesystem fs,
      List<Path> temps,
      Progress progress) {
    Path fetched = paths.tempBeside(image);
    temps.add(fetched);
    progress.stage("Transfer", 0, 60);
    TransferReceiver.receive(
        remote.windows(),
        remote.ticket(),
        fetched,
        req.sizeBytes(),
        fs.name(),
        (stage, done, total, percent) -> progress.bytes(done, total));
    progress.stage("Create", 60, 65);
    return fetched;
  }

  private void writeMounted(
      Path image,
      Populate pop,
      List<Path> sources,
      Path archive,
      VirtualDiskSpec spec,
      long sizeBytes,
      String uuid,
      Progress progress) {
    mounter.populate(
        image,
        spec.filesystem(),
        mnt -> writeTree(mnt, pop, sources, archive, spec, sizeBytes, uuid, progress));
  }

  private void writeTree(
      Path tree,
      Populate pop,
      List<Path> sources,
      Path archive,
      VirtualDiskSpec spec,
      long sizeBytes,
      String uuid,
      Progress progress) {
    progress.stage("Populate", 10, 75);
    trees.populate(pop, sources, archive, tree, progress, sizeBytes);
    progress.stage("Tailor", 75, 80);
    trees.tailor(spec.tailor(), uuid, tree);
  }

  private static boolean hasTailor(VirtualDiskSpec spec) {
    var t = spec.tailor();
    return t != null
        && ((t.hostname() != null && !t.hostname().isEmpty())
            || !t.fstab().isEmpty()
            || !t.files().isEmpty());
  }

  /**
   * Removes temporary paths (never anything else), to the end even if the thread is interrupted
   * meanwhile: here when a path is a file or a directory of files ({@link #removedHere}), else with
   * rm.
   */
  void cleanup(List<Path> temps) {
    Uninterruptible.run(
        "cleanup",
        () -> {
          try {
            for (Path p : List.copyOf(temps)) {
              mounter.release(p, p);
              Path temp = paths.under(p);
              if (removedHere(temp)) continue;
              runner.exec(
                  List.of("rm", "-rf", "--one-file-system", temp.toString()),
                  Duration.ofMinutes(10),
                  null);
            }
          } catch (DiskException ignored) {
            // recover() removes what could not be removed now.
          }
        });
  }

  /**
   * Removes {@code p} in the agent, without starting a process (an rm per clone of a fleet cost 7 %
   * of its build time, measured), when it is a file, a link, or a directory holding only such (the
   * staging directory of a tailoring, the image of a build that failed): true once it is gone.
   * Nothing is followed and nothing opened but directories: a link or a FIFO is unlinked itself,
   * and a directory's entries are looked at and unlinked through the directory this opened (fstatat
   * and unlinkat), which must be the one that was looked at. A mount point, or a tree with
   * directories in it (a staging tree of hostPaths or an archive) is left to rm -rf
   * --one-file-system: false (a tree's files maybe removed in part).
   */
  static boolean removedHere(Path p) {
    BasicFileAttributes a;
    try {
      a = Files.readAttributes(p, BasicFileAttributes.class, LinkOption.NOFOLLOW_LINKS);
    } catch (NoSuchFileException e) {
      return true;
    } catch (IOException e) {
      return false;
    }
    try {
      if (!a.isDirectory()) {
        Files.deleteIfExists(p);
        return true;
      }
      // a mount point (its release failed): what is listed there is another filesystem's
      if (!Files.getAttribute(p, "unix:dev", LinkOption.NOFOLLOW_LINKS)
          .equals(Files.getAttribute(p.getParent(), "unix:dev", LinkOption.NOFOLLOW_LINKS)))
        return false;
      try (DirectoryStream<Path> stream = Files.newDirectoryStream(p)) {
        if (!(stream instanceof SecureDirectoryStream<Path> dir)) return false;
        Object opened =
            dir.getFileAttributeView(BasicFileAttributeView.class).readAttributes().fileKey();
        if (opened == null || !opened.equals(a.fileKey())) return false;
        for (Path entry : dir) {
          Path name = entry.getFileName();
          if (dir.getFileAttributeView(
                  name, BasicFileAttributeView.class, LinkOption.NOFOLLOW_LINKS)
              .readAttributes()
              .isDirectory()) return false;
          dir.deleteFile(name);
        }
      }
      Files.delete(p);
      return true;
    } catch (IOException | DirectoryIteratorException e) {
      return false; // a mount point (busy), a directory put in meanwhile: rm's to remove
    }
  }
}
