package io.xenvbd.disk;

import io.xenvbd.api.Sizes;
import java.io.IOException;
import java.nio.file.FileStore;
import java.nio.file.Files;
import java.nio.file.LinkOption;
import java.nio.file.NoSuchFileException;
import java.nio.file.Path;
import java.time.Instant;
import java.util.ArrayList;
import java.util.List;
import java.util.Optional;
import java.util.OptionalLong;
import java.util.Set;
import java.util.concurrent.ConcurrentHashMap;

/**
 * The disk engine: file-backed Xen images under one images root, built with the real tools. Calls
 * for the same namespace/name are serialised; calls for different disks run in parallel.
 */
public final class DiskEngine implements AutoCloseable {
  private final ImagePaths paths;
  private final CommandRunner runner;
  private final Formatter formatter;
  private final LoopDeviceTable loops = new LoopDeviceTable();
  private final MountTable mounts = new MountTable();
  private final LoopMounter mounter;
  private final Publisher publisher;
  private final ImageBuilder builder;
  private final Resizer resizer;
  private final Housekeeping housekeeping;
  private final Adopter adopter;
  private final MoveReceiver arrivals;
  private final ConcurrentHashMap<String, Object> locks = new ConcurrentHashMap<>();
  private final FileLocks fileLocks;

  /** This agent's own readers of clone sources: its copies and its streams to other nodes. */
  private final CloneCopies cloneCopies;

  private volatile FileLocks.Held rootLock;

  public DiskEngine(EngineConfig config) {
    this(config, new CloneCopies());
  }

  /**
   * {@code cloneCopies}: the record of own copies (tests give one whose holder scan they watch).
   */
  DiskEngine(EngineConfig config, CloneCopies cloneCopies) {
    this.cloneCopies = cloneCopies;
    this.paths =
        new ImagePaths(config.imagesRoot(), config.allowedSources(), config.protectedPaths());
    this.fileLocks = new FileLocks(paths.root());
    this.runner = new CommandRunner(config.commandTimeout());
    this.formatter = new Formatter(runner);
    this.mounter = new LoopMounter(runner, paths, loops, mounts, config.loopWait());
    this.publisher = new Publisher(paths);
    Sandbox sandbox = new Sandbox(runner);
    ArchiveExtractor archives = new ArchiveExtractor(runner, paths, sandbox, config.urls());
    this.builder =
        new ImageBuilder(
            runner,
            paths,
            formatter,
            new TreeWriter(runner, paths, archives, sandbox),
            archives,
            mounter,
            publisher,
            new DebugfsWriter(runner, sandbox, paths),
            config.loopReserve(),
            cloneCopies);
    this.resizer = new Resizer(runner, formatter, mounter);
    Path importDir = importDir(config.importDir(), paths.root());
    this.housekeeping = new Housekeeping(paths, runner, mounter, importDir);
    this.adopter =
        new Adopter(paths, formatter, loops, mounts, publisher, fileLocks, housekeeping, importDir);
    this.arrivals = new MoveReceiver(formatter, paths, publisher, builder);
  }

  /** The import directory as the kernel names it, apart from the images root; null: none. */
  private static Path importDir(Path dir, Path root) {
    if (dir == null) return null;
    Path real = ImagePaths.real(dir);
    if (real.startsWith(root) || root.startsWith(real)) {
      throw new IllegalArgumentException(
          "the import directory "
              + dir
              + (real.startsWith(root) ? " lies in" : " holds")
              + " the images root "
              + root
              + ": give a directory beside it on the same filesystem, e.g. "
              + root.resolveSibling("import"));
    }
    return real;
  }

  /**
   * At startup: delete leftovers of interrupted builds (and our mounts/loops on them). Returns what
   * was cleaned.
   */
  public List<Path> recover() {
    lockRoot();
    return housekeeping.recover();
  }

  /**
   * Takes the images root for this engine alone (until {@link #close}); ImageInUse, before anything
   * is touched, when another agent has it. Called by {@link #recover}, which every agent runs
   * first.
   */
  public synchronized void lockRoot() {
    if (rootLock != null) return;
    paths.privateDirectory(paths.root());
    rootLock = fileLocks.root();
  }

  /** Releases the images root. */
  @Override
  public synchronized void close() {
    if (rootLock != null) rootLock.close();
    rootLock = null;
  }

  /**
   * Build, or return the existing image of the same owner as is; another owner's image: NotOwner.
   */
  public ImageInfo build(DiskRequest request, ProgressListener progress) {
    return build(request, progress, null);
  }

  /**
   * Like {@link #build(DiskRequest, ProgressListener)}, cloning from another node when {@code
   * remote} is not null.
   */
  public ImageInfo build(DiskRequest request, ProgressListener progress, RemoteClone remote) {
    synchronized (lock(request)) {
      try (var held = imageLock(request.namespace(), request.name())) {
        if (adopts(request)) return adoptLocked(request, progress);
        Optional<ImageInfo> existing = owned(request.namespace(), request.name(), request.uid());
        if (existing.isPresent()) return existing.get();
        ImageMetadata meta = builder.build(request, new Progress(progress), remote);
        return info(meta);
      }
    }
  }

  /**
   * A move onto this node: the disk's own image streamed byte for byte from {@code from} (the
   * draining node), checked and published under the same owner. The same owner's image here already
   * is returned as is (a repeated request); another owner's is NotOwner.
   */
  public ImageInfo receive(DiskRequest request, ProgressListener progress, RemoteClone from) {
    synchronized (lock(request)) {
      try (var held = imageLock(request.namespace(), request.name())) {
        Optional<ImageInfo> existing = owned(request.namespace(), request.name(), request.uid());
        if (existing.isPresent()) return existing.get();
        return info(arrivals.receive(request, new Progress(progress), from));
      }
    }
  }

  private static boolean adopts(DiskRequest request) {
    return request.spec().populate() != null && request.spec().populate().adopt() != null;
  }

  /**
   * Adoption instead of a build: the same owner's image is returned as is (a repeated request); a
   * released image under this disk's own name may be the one adopted; anything else there is
   * NotOwner. A spec.size larger than the image grows it afterwards, as a grow does.
   */
  private ImageInfo adoptLocked(DiskRequest request, ProgressListener progress) {
    Path image = paths.image(request.namespace(), request.name());
    if (Files.exists(image, LinkOption.NOFOLLOW_LINKS)) {
      Optional<ImageMetadata> meta = metadata(request.namespace(), request.name());
      boolean mine = meta.isPresent() && meta.get().ownedBy(request.uid());
      boolean adoptingIt =
          meta.isPresent() && meta.get().released() != null && adoptsItself(request, meta.get());
      if (!mine && !adoptingIt)
        throw Guards.notOwner(request.namespace(), request.name(), meta, image);
      if (mine)
        return request.sizeBytes() > meta.get().capacityBytes()
            ? growLocked(request, progress)
            : info(meta.get());
    }
    ImageMetadata adopted = adopter.adopt(request, new Progress(progress));
    if (request.sizeBytes() > adopted.capacityBytes()) return growLocked(request, progress);
    new Progress(progress).done();
    return info(adopted);
  }

  /**
   * Whether the adoption names the released image that lies under the disk's own name (by name or
   * UUID).
   */
  private static boolean adoptsItself(DiskRequest r, ImageMetadata there) {
    var a = r.spec().populate().adopt();
    if (a.uuid() != null) return a.uuid().equalsIgnoreCase(there.filesystemUuid());
    return a.name() != null
        && a.name().equals(r.name())
        && (a.namespace() == null || a.namespace().equals(r.namespace()));
  }

  /**
   * Marks the image released (reclaimPolicy Retain): kept, owned by nobody, listed, adoptable. No
   * image: nothing to do. Released already by the same owner: success. Another owner's: NotOwner.
   */
  public void release(String namespace, String name, String uid) {
    synchronized (lock(namespace, name)) {
      try (var held = imageLock(namespace, name)) {
        Path image = paths.image(namespace, name);
        Optional<ImageMetadata> meta = metadata(namespace, name);
        if (!Files.exists(image, LinkOption.NOFOLLOW_LINKS)) return;
        if (meta.isPresent()
            && meta.get().released() != null
            && uid.equals(meta.get().released().uid())) return;
        if (meta.isEmpty() || !meta.get().ownedBy(uid))
          throw Guards.notOwner(namespace, name, meta, image);
        publisher.writeMetadata(paths.metadata(namespace, name), meta.get().release(Instant.now()));
      }
    }
  }

  /**
   * Releases every image whose owner is not in {@code liveUids}: for local mode at start, whose API
   * forgot the VirtualDisks of its last run. Returns how many images are released now (those
   * released before included).
   */
  public int releaseAllBut(Set<String> liveUids) {
    for (ImageInfo i : inventory().images()) {
      if (!liveUids.contains(i.ownerUid())) release(i.namespace(), i.name(), i.ownerUid());
    }
    return inventory().released().size();
  }

  /** Grow to request.sizeBytes. Same size: no-op. Smaller: ShrinkRefused. In use: ImageInUse. */
  public ImageInfo grow(DiskRequest request, ProgressListener progress) {
    synchronized (lock(request)) {
      try (var held = imageLock(request.namespace(), request.name())) {
        return growLocked(request, progress);
      }
    }
  }

  private ImageInfo growLocked(DiskRequest request, ProgressListener progress) {
    ImageInfo current =
        owned(request.namespace(), request.name(), request.uid())
            .orElseThrow(
                () ->
                    new DiskException(
                        ErrorCode.NotFound,
                        "no image " + request.key() + " on this node: build it first"));
    ImageMetadata meta = metadata(request.namespace(), request.name()).orElseThrow();
    if (request.sizeBytes() < meta.capacityBytes()) {
      throw new DiskException(
          ErrorCode.ShrinkRefused,
          "disk "
              + request.key()
              + " is "
              + meta.capacityBytes()
              + " bytes; shrinking to "
              + request.sizeBytes()
              + " would cut off data: set spec.size back to at least "
              + Sizes.human(meta.capacityBytes()));
    }
    if (request.sizeBytes() == meta.capacityBytes()) return current;
    // First no new clone of it may start, then nothing else may hold it.
    try (var changing = cloneCopies.changing(current.path(), CloneCopies.Change.GROW)) {
      Guards.refuseInUse(loops, mounts, current.path(), "grow");
      Progress p = new Progress(progress);
      p.stage("Resize", 0, 95);
      resizer.grow(
          current.path(),
          request.spec().filesystem(),
          meta.capacityBytes(),
          request.sizeBytes(),
          request.spec().preallocate());
      ImageMetadata grown = meta.resized(request.sizeBytes(), Instant.now());
      // The filesystem is grown: recording it must not be cut short by a deadline or a delete.
      Uninterruptible.run(
          "grown",
          () ->
              publisher.writeMetadata(paths.metadata(request.namespace(), request.name()), grown));
      p.done();
      return info(grown);
    }
  }

  /**
   * Delete image + metadata. Missing: success. Other uid: NotOwner. Attached, mounted or held open
   * by a process: ImageInUse.
   */
  public void delete(String namespace, String name, String uid) {
    synchronized (lock(namespace, name)) {
      try (var held = imageLock(namespace, name)) {
        deleteLocked(namespace, name, uid);
      }
    }
  }

  private void deleteLocked(String namespace, String name, String uid) {
    Path image = paths.image(namespace, name);
    Path metaPath = paths.metadata(namespace, name);
    Optional<ImageMetadata> meta = publisher.readMetadata(metaPath);
    if (!Files.exists(image)) {
      if (meta.isPresent() && meta.get().ownedBy(uid)) deleteFile(metaPath);
      return;
    }
    if (meta.isEmpty() || !meta.get().ownedBy(uid))
      throw Guards.notOwner(namespace, name, meta, image);
    try (var changing = cloneCopies.changing(image, CloneCopies.Change.DELETE)) {
      Guards.refuseInUse(loops, mounts, image, "delete");
      // The image first: a crash in between leaves the metadata alone, which recover() removes.
      deleteFile(image);
      deleteFile(metaPath);
      Publisher.fsyncDir(image.getParent());
    }
  }

  /**
   * The published image of namespace/name that {@code uid} owns, opened to be streamed to another
   * node: its lock is held until the source is closed (so this agent neither grows nor deletes it
   * meanwhile). NotFound when there is no such image; ImageInUse when it is attached, mounted, open
   * in a process, or locked by an operation on it.
   */
  public TransferSource openTransfer(String namespace, String name, String uid) {
    FileLocks.Held held = imageLock(namespace, name);
    try {
      Path image = paths.image(namespace, name);
      Optional<ImageMetadata> meta = metadata(namespace, name);
      if (!Files.isRegularFile(image, LinkOption.NOFOLLOW_LINKS)
          || meta.isEmpty()
          || !meta.get().ownedBy(uid)) {
        throw new DiskException(
            ErrorCode.NotFound,
            "this node has no published image "
                + namespace
                + "/"
                + name
                + " of the VirtualDisk with uid "
                + uid
                + ": clone a disk that is Ready");
      }
      return new TransferSource(
          image, meta.get().filesystem(), held, loops, mounts, runner, cloneCopies);
    } catch (RuntimeException e) {
      held.close();
      throw e;
    }
  }

  /**
   * The image a VirtualDisk owns under namespace/name; empty when there is none, or it is released.
   */
  public Optional<ImageInfo> inspect(String namespace, String name) {
    Path image = paths.image(namespace, name);
    if (!Files.isRegularFile(image)) return Optional.empty();
    return metadata(namespace, name).filter(m -> m.released() == null).map(this::info);
  }

  public Inventory inventory() {
    Housekeeping.Listing l = housekeeping.list();
    List<ImageInfo> images = new ArrayList<>();
    List<Inventory.Released> released = new ArrayList<>();
    List<Path> orphans = new ArrayList<>();
    for (Path p : l.images()) {
      String ns = p.getParent().getFileName().toString();
      String name = p.getFileName().toString().replaceFirst("\\.img$", "");
      Optional<ImageMetadata> meta = Optional.empty();
      try {
        meta = metadata(ns, name).filter(m -> ns.equals(m.namespace()) && name.equals(m.name()));
      } catch (DiskException ignored) {
        // a file whose name is no valid namespace/name: not ours
      }
      if (meta.isEmpty()) {
        // no metadata: an orphan, unless image and metadata were both deleted since the listing
        if (Files.exists(p, LinkOption.NOFOLLOW_LINKS)) orphans.add(p);
      } else if (meta.get().released() != null) {
        ImageMetadata m = meta.get();
        OptionalLong allocated = allocatedIfThere(p);
        if (allocated.isEmpty()) continue; // deleted since the listing
        released.add(
            new Inventory.Released(
                p,
                m.capacityBytes(),
                allocated.getAsLong(),
                m.filesystem(),
                m.filesystemUuid(),
                m.released()));
      } else {
        OptionalLong allocated = allocatedIfThere(p);
        if (allocated.isPresent()) images.add(info(meta.get(), allocated.getAsLong()));
      }
    }
    return new Inventory(images, released, orphans, l.leftovers());
  }

  public LoopStatus loopStatus() {
    return loops.status();
  }

  public StorageInfo storage() {
    try {
      paths.privateDirectory(paths.root());
      FileStore store = Files.getFileStore(paths.root());
      long allocated = 0;
      long promised = 0;
      for (Path p : housekeeping.list().images()) {
        long size;
        try {
          size = Files.size(p);
        } catch (NoSuchFileException e) {
          continue; // deleted since the listing
        }
        OptionalLong a = allocatedIfThere(p);
        if (a.isEmpty()) continue;
        allocated += a.getAsLong();
        promised += size;
      }
      return new StorageInfo(
          paths.root(), store.getTotalSpace(), store.getUsableSpace(), allocated, promised);
    } catch (IOException e) {
      throw Io.wrap(e, "reading the images root " + paths.root());
    }
  }

  /** The image's path for namespace/name (whether or not it exists). */
  public Path imagePath(String namespace, String name) {
    return paths.image(namespace, name);
  }

  private Optional<ImageInfo> owned(String namespace, String name, String uid) {
    Path image = paths.image(namespace, name);
    if (!Files.exists(image)) return Optional.empty();
    Optional<ImageMetadata> meta = metadata(namespace, name);
    if (meta.isEmpty() || !meta.get().ownedBy(uid))
      throw Guards.notOwner(namespace, name, meta, image);
    return meta.map(this::info);
  }

  private Optional<ImageMetadata> metadata(String namespace, String name) {
    return publisher.readMetadata(paths.metadata(namespace, name));
  }

  /**
   * The capacity is the metadata's, written only once a grow's filesystem was grown and checked: a
   * grow that failed after the file was extended leaves a longer file, and must not be reported
   * (and taken for done) at the new size.
   */
  private ImageInfo info(ImageMetadata m) {
    return info(m, formatter.allocated(paths.image(m.namespace(), m.name())));
  }

  private ImageInfo info(ImageMetadata m, long allocated) {
    Path image = paths.image(m.namespace(), m.name());
    return new ImageInfo(
        m.namespace(),
        m.name(),
        m.ownerUid(),
        image,
        m.capacityBytes(),
        allocated,
        m.filesystemUuid(),
        m.specDigest(),
        m.cloned());
  }

  /**
   * The allocated bytes of an image listed a moment ago; empty when it has been deleted since (a
   * heartbeat lists the images while deletes run: one of them must not fail the whole report).
   */
  private OptionalLong allocatedIfThere(Path image) {
    try {
      return OptionalLong.of(formatter.allocated(image));
    } catch (DiskException e) {
      // stat found no file: the one listed is gone, even if another of that name is there by now
      if (!Files.exists(image, LinkOption.NOFOLLOW_LINKS)
          || e.getMessage().contains("No such file or directory")) return OptionalLong.empty();
      throw e;
    }
  }

  private static void deleteFile(Path p) {
    try {
      Files.deleteIfExists(p);
    } catch (IOException e) {
      throw Io.wrap(e, "deleting " + p);
    }
  }

  private FileLocks.Held imageLock(String namespace, String name) {
    paths.privateDirectory(paths.root());
    return fileLocks.image(namespace, name);
  }

  private Object lock(DiskRequest r) {
    return lock(r.namespace(), r.name());
  }

  private Object lock(String namespace, String name) {
    return locks.computeIfAbsent(namespace + "/" + name, k -> new Object());
  }
}
