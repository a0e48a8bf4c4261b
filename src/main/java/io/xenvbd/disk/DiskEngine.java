package io.xenvbd.disk;

import java.io.IOException;
import java.nio.file.FileStore;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Instant;
import java.util.ArrayList;
import java.util.List;
import java.util.Optional;
import java.util.concurrent.ConcurrentHashMap;

/**
 * The disk engine: file-backed Xen images under one images root, built with the real tools. Calls for
 * the same namespace/name are serialised; calls for different disks run in parallel.
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
  private final ConcurrentHashMap<String, Object> locks = new ConcurrentHashMap<>();
  private final FileLocks fileLocks;
  private volatile FileLocks.Held rootLock;

  public DiskEngine(EngineConfig config) {
    this.paths = new ImagePaths(config.imagesRoot(), config.allowedSources(), config.protectedPaths());
    this.fileLocks = new FileLocks(paths.root());
    this.runner = new CommandRunner(config.commandTimeout());
    this.formatter = new Formatter(runner);
    this.mounter = new LoopMounter(runner, paths, loops, mounts, config.loopWait());
    this.publisher = new Publisher(paths);
    Sandbox sandbox = new Sandbox(runner);
    ArchiveExtractor archives = new ArchiveExtractor(runner, paths, sandbox, config.urls());
    this.builder = new ImageBuilder(runner, paths, formatter, new TreeWriter(runner, paths, archives, sandbox), archives,
        mounter, publisher);
    this.resizer = new Resizer(runner, formatter, mounter);
    this.housekeeping = new Housekeeping(paths, runner, mounter);
  }

  /** At startup: delete leftovers of interrupted builds (and our mounts/loops on them). Returns what was cleaned. */
  public List<Path> recover() {
    lockRoot();
    return housekeeping.recover();
  }

  /**
   * Takes the images root for this engine alone (until {@link #close}); ImageInUse, before anything
   * is touched, when another agent has it. Called by {@link #recover}, which every agent runs first.
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

  /** Build, or return the existing image of the same owner as is; another owner's image: NotOwner. */
  public ImageInfo build(DiskRequest request, ProgressListener progress) {
    return build(request, progress, null);
  }

  /** Like {@link #build(DiskRequest, ProgressListener)}, cloning from another node when {@code remote} is not null. */
  public ImageInfo build(DiskRequest request, ProgressListener progress, RemoteClone remote) {
    synchronized (lock(request)) {
      try (var held = imageLock(request.namespace(), request.name())) {
        Optional<ImageInfo> existing = owned(request.namespace(), request.name(), request.uid());
        if (existing.isPresent()) return existing.get();
        ImageMetadata meta = builder.build(request, new Progress(progress), remote);
        return info(meta);
      }
    }
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
    ImageInfo current = owned(request.namespace(), request.name(), request.uid()).orElseThrow(() ->
        new DiskException(ErrorCode.NotFound, "no image " + request.key() + " on this node: build it first"));
    ImageMetadata meta = metadata(request.namespace(), request.name()).orElseThrow();
    if (request.sizeBytes() < meta.capacityBytes()) {
      throw new DiskException(ErrorCode.ShrinkRefused, "disk " + request.key() + " is " + meta.capacityBytes()
          + " bytes; shrinking to " + request.sizeBytes() + " would cut off data: set spec.size back to at least "
          + io.xenvbd.api.Sizes.human(meta.capacityBytes()));
    }
    if (request.sizeBytes() == meta.capacityBytes()) return current;
    Guards.refuseInUse(loops, mounts, current.path(), "grow");
    Progress p = new Progress(progress);
    p.stage("Resize", 0, 95);
    resizer.grow(current.path(), request.spec().filesystem(), meta.capacityBytes(), request.sizeBytes(),
        request.spec().preallocate());
    ImageMetadata grown = meta.resized(request.sizeBytes(), Instant.now());
    // The filesystem is grown: recording it must not be cut short by a deadline or a delete.
    Uninterruptible.run("grown", () -> publisher.writeMetadata(paths.metadata(request.namespace(), request.name()), grown));
    p.done();
    return info(grown);
  }

  /** Delete image + metadata. Missing: success. Other uid: NotOwner. Attached or mounted: ImageInUse. */
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
      if (meta.isPresent() && meta.get().ownerUid().equals(uid)) deleteFile(metaPath);
      return;
    }
    if (meta.isEmpty() || !meta.get().ownerUid().equals(uid)) throw Guards.notOwner(namespace, name, meta, image);
    Guards.refuseInUse(loops, mounts, image, "delete");
    deleteFile(image); // image first: a crash in between leaves metadata alone, a leftover recover() removes
    deleteFile(metaPath);
    Publisher.fsyncDir(image.getParent());
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
      if (!Files.isRegularFile(image, java.nio.file.LinkOption.NOFOLLOW_LINKS) || meta.isEmpty()
          || !meta.get().ownerUid().equals(uid)) {
        throw new DiskException(ErrorCode.NotFound, "this node has no published image " + namespace + "/" + name
            + " of the VirtualDisk with uid " + uid + ": clone a disk that is Ready");
      }
      return new TransferSource(image, meta.get().filesystem(), held, loops, mounts, runner);
    } catch (RuntimeException e) {
      held.close();
      throw e;
    }
  }

  public Optional<ImageInfo> inspect(String namespace, String name) {
    Path image = paths.image(namespace, name);
    if (!Files.isRegularFile(image)) return Optional.empty();
    return metadata(namespace, name).map(this::info);
  }

  public Inventory inventory() {
    Housekeeping.Listing l = housekeeping.list();
    List<ImageInfo> images = new ArrayList<>();
    List<Path> orphans = new ArrayList<>();
    for (Path p : l.images()) {
      String ns = p.getParent().getFileName().toString();
      String name = p.getFileName().toString().replaceFirst("\\.img$", "");
      Optional<ImageInfo> info = Optional.empty();
      try {
        info = inspect(ns, name);
      } catch (DiskException ignored) {
        // a file whose name is no valid namespace/name: not ours
      }
      if (info.isPresent() && info.get().namespace().equals(ns) && info.get().name().equals(name)) images.add(info.get());
      else orphans.add(p);
    }
    return new Inventory(images, orphans, l.leftovers());
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
        allocated += formatter.allocated(p);
        promised += Files.size(p);
      }
      return new StorageInfo(paths.root(), store.getTotalSpace(), store.getUsableSpace(), allocated, promised);
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
    if (meta.isEmpty() || !meta.get().ownerUid().equals(uid)) throw Guards.notOwner(namespace, name, meta, image);
    return meta.map(this::info);
  }

  private Optional<ImageMetadata> metadata(String namespace, String name) {
    return publisher.readMetadata(paths.metadata(namespace, name));
  }

  /**
   * The capacity is the metadata's, written only once a grow's filesystem was grown and checked: a
   * grow that failed after the file was extended leaves a longer file, and must not be reported (and
   * taken for done) at the new size.
   */
  private ImageInfo info(ImageMetadata m) {
    Path image = paths.image(m.namespace(), m.name());
    return new ImageInfo(m.namespace(), m.name(), m.ownerUid(), image, m.capacityBytes(), formatter.allocated(image),
        m.filesystemUuid(), m.specDigest());
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
