package io.xenvbd.disk;

import io.xenvbd.api.Populate;
import io.xenvbd.api.Validation;
import io.xenvbd.api.VirtualDiskSpec.Filesystem;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.LinkOption;
import java.nio.file.Path;
import java.time.Instant;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.Optional;

/**
 * Takes over an existing image instead of building one: a released image of this node (by its
 * former name, or its filesystem UUID) or a file of the admin's import directory. The data is never
 * rewritten: the filesystem is identified and checked with the image bound read-only in the
 * sandbox, an image in use (loop device, mount, open or mapped by a process) is refused, and the
 * file is moved into place with rename(2) on the same filesystem, never copied. An import file is
 * first renamed into the images root ({@link ImagePaths#PARKED_PREFIX}), where nobody else can
 * reach it by name, and only there checked to be the regular, singly linked file that was looked
 * at: a symbolic link, hard link, FIFO or device node planted in the import directory is never
 * opened. A refusal puts it back.
 */
final class Adopter {
  private final ImagePaths paths;
  private final Formatter formatter;
  private final LoopDeviceTable loops;
  private final MountTable mounts;
  private final Publisher publisher;
  private final FileLocks locks;
  private final Housekeeping housekeeping;
  private final Path importDir;

  Adopter(
      ImagePaths paths,
      Formatter formatter,
      LoopDeviceTable loops,
      MountTable mounts,
      Publisher publisher,
      FileLocks locks,
      Housekeeping housekeeping,
      Path importDir) {
    this.housekeeping = housekeeping;
    this.paths = paths;
    this.formatter = formatter;
    this.loops = loops;
    this.mounts = mounts;
    this.publisher = publisher;
    this.locks = locks;
    this.importDir = importDir;
  }

  /**
   * Adopts what {@code req}'s populate.adopt names as {@code req}'s image and returns its metadata
   * (at the image's own size; the caller grows it to spec.size). The caller holds the target's
   * locks and has found no image under the target's name, or the released image this adoption
   * takes.
   */
  ImageMetadata adopt(DiskRequest req, Progress progress) {
    Populate.Adopt a = req.spec().populate().adopt();
    progress.stage("Check", 0, 90);
    ImageMetadata meta =
        a.importFile() != null ? adoptImport(req, a.importFile()) : adoptReleased(req, a);
    progress.stage("Publish", 90, 95);
    return meta;
  }

  private ImageMetadata adoptReleased(DiskRequest req, Populate.Adopt a) {
    String[] source =
        a.uuid() != null
            ? byUuid(a.uuid(), req.namespace())
            : new String[] {a.namespace() == null ? req.namespace() : a.namespace(), a.name()};
    String ns = source[0];
    String name = source[1];
    boolean inPlace = ns.equals(req.namespace()) && name.equals(req.name());
    String what = "released image " + ns + "/" + name;
    try (FileLocks.Held held =
        inPlace
            ? null
            : locks.image(
                ns,
                name,
                "another VirtualDisk is adopting "
                    + what
                    + " right now: an image goes to one VirtualDisk only; adopt another one, or build a new disk")) {
      Path image = paths.image(ns, name);
      Optional<ImageMetadata> meta = publisher.readMetadata(paths.metadata(ns, name));
      if (!Files.isRegularFile(image, LinkOption.NOFOLLOW_LINKS) || meta.isEmpty()) {
        throw new DiskException(
            ErrorCode.NotFound,
            "this node has no "
                + what
                + ": the Dom0Node's status.released"
                + " lists the released images it has; adopt one of those, or build a new disk");
      }
      ImageMetadata.Released released = meta.get().released();
      if (released == null) {
        throw new DiskException(
            ErrorCode.NotOwner,
            "image "
                + ns
                + "/"
                + name
                + " is not released: a VirtualDisk owns"
                + " it (only an image whose VirtualDisk was deleted with reclaimPolicy Retain can be adopted); adopt a"
                + " released image, or clone this one with populate.cloneFrom");
      }
      if (!released.namespace().equals(req.namespace())) {
        throw new DiskException(
            ErrorCode.NotOwner,
            what
                + " was released from namespace "
                + released.namespace()
                + ", and only a VirtualDisk of that namespace may adopt it: create this VirtualDisk in namespace "
                + released.namespace());
      }
      Guards.refuseInUse(loops, mounts, image, "adopt");
      Identity id = identify(image, req);
      ImageMetadata adopted = metadata(req, id, meta.get().createdAt());
      Path target = paths.image(req.namespace(), req.name());
      if (inPlace) {
        publisher.writeMetadata(paths.metadata(ns, name), adopted);
      } else {
        // the new owner's metadata first, then the image: a crash in between leaves metadata
        // without an
        // image (a leftover recover() removes) and the released image as it was
        publisher.publish(image, target, paths.metadata(req.namespace(), req.name()), adopted);
        Uninterruptible.run("adopted", () -> delete(paths.metadata(ns, name)));
      }
      return adopted;
    }
  }

  /**
   * The one image released from {@code namespace} with filesystem UUID {@code uuid}. Images
   * released from other namespaces are not looked at: a UUID names no image, so an answer about
   * them would tell a tenant which namespace has an image of that UUID, and its name.
   */
  private String[] byUuid(String uuid, String namespace) {
    List<ImageMetadata> found = new ArrayList<>();
    for (Path p : housekeeping.list().images()) {
      String ns = p.getParent().getFileName().toString();
      String name = p.getFileName().toString().replaceFirst("\\.img$", "");
      Optional<ImageMetadata> m;
      try {
        m = publisher.readMetadata(paths.metadata(ns, name));
      } catch (DiskException e) {
        continue; // a file whose name is no namespace/name: not ours
      }
      if (m.isPresent()
          && m.get().released() != null
          && namespace.equals(m.get().released().namespace())
          && uuid.equalsIgnoreCase(m.get().filesystemUuid())) found.add(m.get());
    }
    if (found.isEmpty()) {
      throw new DiskException(
          ErrorCode.NotFound,
          "no image released from namespace "
              + namespace
              + " on this node has filesystem UUID "
              + uuid
              + ": the Dom0Node's status.released lists the released images and their UUIDs");
    }
    if (found.size() > 1) {
      throw DiskException.invalid(
          found.size()
              + " released images on this node have filesystem UUID "
              + uuid
              + " (copies of one image): adopt one of them by spec.populate.adopt.name instead");
    }
    return new String[] {found.get(0).namespace(), found.get(0).name()};
  }

  private ImageMetadata adoptImport(DiskRequest req, String file) {
    if (importDir == null) {
      throw new DiskException(
          ErrorCode.SourceNotAllowed,
          "the agent of this node has no import directory: ask"
              + " the node's admin to start it with --import-dir DIR and put the file there, or adopt a released image");
    }
    if (!file.matches(Validation.IMPORT_FILE)) {
      throw DiskException.invalid(
          "spec.populate.adopt.importFile must be a plain file name, never a path");
    }
    Path source = importDir.resolve(file);
    try (FileLocks.Held held =
        locks.importFile(
            file,
            "another VirtualDisk is adopting the import file "
                + file
                + " right now: an image goes to one VirtualDisk only; adopt another file, or build a new disk")) {
      Map<String, Object> seen = ImportFiles.lstat(source, file);
      ImportFiles.requireLoneRegularFile(seen, file);
      ImportFiles.requireSameFilesystem(paths.root(), seen, file);
      Guards.refuseInUse(loops, mounts, source, "adopt");
      Path parked = paths.under(paths.root().resolve(ImagePaths.PARKED_PREFIX + file));
      if (Files.exists(parked, LinkOption.NOFOLLOW_LINKS)) {
        throw new DiskException(
            ErrorCode.ImageInUse,
            "an adoption of the import file "
                + file
                + " was interrupted and"
                + " its file waits in the images root; restart the agent (it puts the file back) and retry");
      }
      ImportFiles.move(
          source,
          parked); // rename(2) moves the entry itself: no link is followed, no FIFO or device
      // opened
      try {
        Map<String, Object> now = ImportFiles.lstat(parked, file);
        if (!now.get("dev").equals(seen.get("dev")) || !now.get("ino").equals(seen.get("ino"))) {
          throw new DiskException(
              ErrorCode.SourceNotAllowed,
              "the import file "
                  + file
                  + " was replaced while it was"
                  + " being adopted: nothing was taken; leave it alone and retry");
        }
        ImportFiles.requireLoneRegularFile(now, file);
        Guards.refuseInUse(loops, mounts, parked, "adopt");
        Identity id = identify(parked, req);
        Path target = paths.image(req.namespace(), req.name());
        paths.privateDirectory(target.getParent());
        ImportFiles.takeOwnership(paths.root(), parked);
        ImageMetadata adopted = metadata(req, id, Instant.now());
        publisher.publish(parked, target, paths.metadata(req.namespace(), req.name()), adopted);
        return adopted;
      } catch (RuntimeException e) {
        ImportFiles.putBack(parked, source);
        throw e;
      }
    }
  }

  /** What the image holds, found read-only. */
  private record Identity(Filesystem filesystem, String uuid, long bytes) {}

  private Identity identify(Path image, DiskRequest req) {
    Filesystem wanted = req.spec().filesystem();
    Map<String, String> tags = formatter.probe(image);
    String type = tags.get("TYPE");
    Filesystem found = type == null ? Filesystem.none : known(type, image);
    if (found != wanted) {
      throw DiskException.invalid(
          "the image "
              + image.getFileName()
              + " holds "
              + (type == null
                  ? "no filesystem blkid recognises (a raw disk)"
                  : "an " + type + " filesystem")
              + " but spec.filesystem is "
              + wanted
              + ": set spec.filesystem to "
              + found
              + " (adoption never reformats)");
    }
    try {
      formatter.checkReadOnly(image, found);
    } catch (DiskException e) {
      if (e.code() != ErrorCode.CommandFailed) throw e;
      throw new DiskException(
          ErrorCode.CommandFailed,
          "the "
              + found
              + " filesystem of "
              + image.getFileName()
              + " is not clean ("
              + e.getMessage()
              + "): repair it on the node (e2fsck -f, or xfs_repair) and retry;"
              + " adoption never repairs or rewrites an image",
          e);
    }
    long bytes = size(image);
    if (req.sizeBytes() < bytes) {
      throw new DiskException(
          ErrorCode.ShrinkRefused,
          "the image "
              + image.getFileName()
              + " is "
              + bytes
              + " bytes and spec.size "
              + req.spec().size()
              + " is smaller; adoption never shrinks an image: set spec.size"
              + " to at least "
              + exact(bytes));
    }
    return new Identity(found, tags.get("UUID"), bytes);
  }

  private static Filesystem known(String type, Path image) {
    return switch (type) {
      case "ext2" -> Filesystem.ext2;
      case "ext3" -> Filesystem.ext3;
      case "ext4" -> Filesystem.ext4;
      case "xfs" -> Filesystem.xfs;
      default ->
          throw DiskException.invalid(
              "the image "
                  + image.getFileName()
                  + " holds a "
                  + type
                  + " filesystem,"
                  + " which xenvbd does not manage (ext2, ext3, ext4, xfs or a raw disk): adopt another image");
    };
  }

  private static ImageMetadata metadata(DiskRequest req, Identity id, Instant createdAt) {
    return new ImageMetadata(
        1,
        req.namespace(),
        req.name(),
        req.uid(),
        req.specDigest(),
        id.filesystem().name(),
        id.uuid(),
        id.bytes(),
        createdAt,
        Instant.now());
  }

  private static long size(Path p) {
    try {
      return Files.size(p);
    } catch (IOException e) {
      throw Io.wrap(e, "reading the size of " + p);
    }
  }

  private static void delete(Path p) {
    try {
      Files.deleteIfExists(p);
    } catch (IOException e) {
      throw Io.wrap(e, "deleting " + p);
    }
  }

  /**
   * A quantity for exactly {@code bytes}: the largest binary unit that divides it, e.g. 2097153Ki.
   */
  static String exact(long bytes) {
    String[] units = {"Ti", "Gi", "Mi", "Ki"};
    for (int i = 0; i < units.length; i++) {
      long unit = 1L << (10 * (4 - i));
      if (bytes % unit == 0) return (bytes / unit) + units[i];
    }
    return Long.toString(bytes);
  }
}
