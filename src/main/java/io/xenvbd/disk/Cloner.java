package io.xenvbd.disk;

import io.xenvbd.api.VirtualDiskSpec.Filesystem;
import io.xenvbd.api.VirtualDiskStatus.CloneMethod;
import java.io.BufferedReader;
import java.io.IOException;
import java.io.InputStreamReader;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardCopyOption;
import java.util.List;
import java.util.regex.Matcher;
import java.util.regex.Pattern;

/**
 * The copy of a clone: its source's blocks shared where the images root can (a reflink, FICLONE, on
 * XFS with reflink or btrfs: milliseconds, whatever the size), else only the source's allocated
 * extents copied (found with SEEK_DATA/SEEK_HOLE, holes kept: {@link ExtentCopy}); then grown to
 * the requested size; the caller gives it its own filesystem UUID ({@link Formatter#newUuidSteps},
 * in the sandbox run that tailors or checks it), so that the clone's {@code UUID=} never mounts its
 * source. The source is the agent's own published image file, in the root-only images root.
 */
final class Cloner {
  /** One extent of {@code filefrag -v -b1}: its length in bytes and its flags. */
  private static final Pattern EXTENT =
      Pattern.compile("^\\s*\\d+:\\s+\\d+\\.\\.\\s*\\d+:\\s+\\d+\\.\\.\\s*\\d+:\\s+(\\d+):.*$");

  private final CommandRunner runner;
  private final Formatter formatter;
  private final LoopMounter mounter;
  private final CloneCopies copies;

  Cloner(CommandRunner runner, Formatter formatter, LoopMounter mounter, CloneCopies copies) {
    this.copies = copies;
    this.runner = runner;
    this.formatter = formatter;
    this.mounter = mounter;
  }

  /**
   * Copies {@code source} to {@code temp} (or, {@code take}: renames it, a file of this build's own
   * such as a source streamed from another node, which a copy would hold on the node twice), grows
   * it to the request's size; returns how it copied.
   */
  CloneMethod clone(
      Path source, Path temp, DiskRequest req, Filesystem fs, Progress progress, boolean take) {
    CloneMethod method = take ? take(source, temp) : copy(source, temp);
    long size;
    try {
      Formatter.privateFile(temp);
      size = Files.size(temp);
    } catch (IOException e) {
      throw Io.wrap(e, "reading the size of " + temp);
    }
    if (size > req.sizeBytes()) {
      // The source was checked against spec.size before the copy; a grow of it may have ended in
      // between (a grow and a copy exclude each other only while one of them runs), or one that
      // failed half-way left the file longer than its metadata says until its retry: the copy is
      // never published larger than the disk asked for, nor of a filesystem half grown.
      throw DiskException.invalid(
          "cloneFrom '"
              + req.spec().populate().cloneFrom().name()
              + "' is "
              + size
              + " bytes now (grown, or its grow unfinished, since it was checked); spec.size ("
              + req.sizeBytes()
              + " bytes) must be at least that");
    }
    if (req.sizeBytes() > size) {
      progress.stage("Resize", 5, 10);
      new Resizer(runner, formatter, mounter)
          .grow(temp, fs, size, req.sizeBytes(), req.spec().preallocate());
    } else if (req.spec().preallocate()) {
      formatter.preallocate(temp, 0, size);
    }
    return method;
  }

  /** The streamed file itself, holes kept as they arrived. */
  private static CloneMethod take(Path source, Path temp) {
    try {
      Files.move(source, temp, StandardCopyOption.ATOMIC_MOVE);
    } catch (IOException e) {
      throw Io.wrap(e, "moving " + source + " to " + temp);
    }
    return CloneMethod.SparseCopy;
  }

  /**
   * A reflink where the images root's filesystem has them; else a copy of the allocated extents,
   * written straight to the disk ({@link ExtentCopy}).
   */
  private CloneMethod copy(Path source, Path temp) {
    if (!reflinkRefused) {
      CloneMethod m = reflink(source, temp);
      if (m != null) return m;
    }
    copies.copyInAgent(source, started -> ExtentCopy.copy(runner, source, temp, started));
    return CloneMethod.SparseCopy;
  }

  /**
   * Set once the images root's filesystem said it cannot share blocks at all (ext4: "Operation not
   * supported"): a filesystem does not learn reflinks while it is mounted, so later clones copy at
   * once instead of starting a cp that fails first (117–174 ms each on a loaded node, measured).
   */
  private volatile boolean reflinkRefused;

  /** A reflink, or null (nothing left at {@code temp}) when the images root refused it. */
  private CloneMethod reflink(Path source, Path temp) {
    List<String> cp = List.of("cp", "--reflink=always", source.toString(), temp.toString());
    CommandRunner.Result r =
        copies.copy(source, started -> runner.execTold(cp, runner.defaultTimeout(), started));
    if (r.ok()) return CloneMethod.Reflink;
    try {
      Files.deleteIfExists(temp); // a refused clone may leave an empty file; the copy makes it anew
    } catch (IOException e) {
      throw Io.wrap(e, "removing " + temp);
    }
    if (CommandRunner.isNoSpace(r.stderr())) throw CommandRunner.failure(r);
    if (r.stderr().contains("Operation not supported")) reflinkRefused = true;
    return null;
  }

  /**
   * Bytes of {@code image} whose blocks another file shares too (the extents FIEMAP flags shared);
   * null when the images root cannot say (a report of the build, never a reason to fail it).
   */
  Long sharedBytes(Path image) {
    try {
      // read as it comes: a tool's kept output is cut at 64 KiB (~700 extents of this report)
      return runner.stream(
          List.of("filefrag", "-v", "-b1", image.toString()),
          Path.of("/dev/null"),
          null,
          in -> {
            long shared = 0;
            boolean whole = false;
            BufferedReader r =
                new BufferedReader(new InputStreamReader(in, StandardCharsets.UTF_8));
            for (String line = r.readLine(); line != null; line = r.readLine()) {
              Matcher m = EXTENT.matcher(line);
              if (m.matches() && line.substring(line.lastIndexOf(':') + 1).contains("shared"))
                shared += Long.parseLong(m.group(1));
              whole |= line.endsWith(" extents found") || line.endsWith(" extent found");
            }
            return whole ? Long.valueOf(shared) : null;
          });
    } catch (DiskException e) {
      if (e.code() == ErrorCode.Interrupted) throw e; // a delete or a deadline: the build stops
      return null;
    } catch (NumberFormatException e) {
      return null;
    }
  }
}
