package io.xenvbd.disk;

import static io.xenvbd.disk.DiskTestSupport.RUN;
import static io.xenvbd.disk.DiskTestSupport.allocated;
import static io.xenvbd.disk.DiskTestSupport.assertNothingAttachedUnder;
import static io.xenvbd.disk.DiskTestSupport.request;
import static io.xenvbd.disk.DiskTestSupport.sha256;
import static io.xenvbd.disk.DiskTestSupport.spec;
import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.catchThrowableOfType;

import io.xenvbd.api.Populate;
import io.xenvbd.api.Tailor;
import io.xenvbd.api.VirtualDiskSpec.Filesystem;
import io.xenvbd.api.VirtualDiskStatus.CloneMethod;
import io.xenvbd.testing.RequiresRoot;
import io.xenvbd.testing.XfsReflinkRoot;
import java.io.IOException;
import java.nio.channels.FileChannel;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardOpenOption;
import java.security.SecureRandom;
import java.time.Duration;
import java.util.List;
import java.util.Set;
import java.util.concurrent.ConcurrentSkipListSet;
import java.util.concurrent.atomic.AtomicReference;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * Clones at copy-on-write speed: on an images root with reflink (XFS made on a loop-backed file) a
 * clone shares its source's blocks; on ext4 it copies only the allocated extents; an ext4 clone
 * gets its new UUID, hostname, fstab and directories written into the image file, with no mount and
 * no loop device on the way (watched while it is built).
 */
@RequiresRoot
class CloneTest {
  static final long DATA = 24L << 20;
  @TempDir static Path tmp;
  static Path allowed;

  @BeforeAll
  static void templateContent() throws IOException {
    allowed = Files.createDirectories(tmp.resolve("allowed/tree/opt"));
    byte[] noise =
        new byte[(int) DATA]; // random: no zero run for cp --sparse=always to turn into a hole
    new SecureRandom().nextBytes(noise);
    Files.write(allowed.resolve("blob"), noise);
    Files.writeString(
        Files.createDirectories(tmp.resolve("allowed/tree/etc")).resolve("hostname"), "golden\n");
  }

  @AfterAll
  static void nothingLeftAttached() {
    assertNothingAttachedUnder(tmp);
  }

  private static final Tailor GOLDEN =
      new Tailor(
          "golden", List.of(new Tailor.FstabEntry("self", "/", "ext4", null, null, 1)), null);

  private static ImageInfo template(DiskEngine engine) {
    Populate tree = tree(null);
    return engine.build(
        request("golden", spec("64Mi", Filesystem.ext4, tree, GOLDEN)), ProgressListener.NONE);
  }

  /** The template's content: the allowed tree at /. */
  private static Populate tree(Populate.Method method) {
    return new Populate(
        List.of(new Populate.HostPath(tmp.resolve("allowed/tree").toString(), "/")),
        null,
        null,
        null,
        method);
  }

  private static ImageInfo cloneOf(
      DiskEngine engine, String name, Populate.Method method, Tailor tailor) {
    Populate p =
        new Populate(null, null, new Populate.CloneFrom("golden"), List.of("/srv/data"), method);
    return engine.build(
        request(name, spec("64Mi", Filesystem.ext4, p, tailor)), ProgressListener.NONE);
  }

  private static Tailor mine(String host) {
    return new Tailor(
        host,
        List.of(new Tailor.FstabEntry("self", "/", "ext4", "noatime", 0, 1)),
        List.of(new Tailor.File("/etc/motd", "welcome to " + host + "\n", "0600")));
  }

  @Test
  void onAnXfsRootWithReflinkACloneSharesTheSourcesBlocks() throws IOException {
    try (XfsReflinkRoot xfs = XfsReflinkRoot.create(tmp, 400L << 20)) {
      DiskEngine engine =
          DiskTestSupport.engine(xfs.mountPoint.resolve("images"), tmp.resolve("allowed"));
      ImageInfo golden = template(engine);
      String goldenSha = sha256(golden.path());
      RUN.run("sync", "-f", xfs.mountPoint.toString());
      long usedBefore = used(xfs.mountPoint);

      ImageInfo copy = cloneOf(engine, "copy", null, mine("vm1"));
      RUN.run("sync", "-f", xfs.mountPoint.toString());
      long usedAfter = used(xfs.mountPoint);

      assertThat(copy.cloned().method()).isEqualTo(CloneMethod.Reflink);
      assertThat(copy.cloned().sharedBytes())
          .as("status.cloned.sharedBytes")
          .isGreaterThanOrEqualTo(DATA);
      assertThat(sharedByFiemap(copy.path()))
          .as("extents xfs_io fiemap flags shared")
          .isGreaterThanOrEqualTo(DATA);
      assertThat(allocated(copy.path()))
          .as("the clone's own allocation")
          .isGreaterThanOrEqualTo(DATA);
      assertThat(usedAfter - usedBefore)
          .as("blocks the clone really took on the images root")
          .isLessThan(8L << 20);
      assertThat(sha256(golden.path())).as("the source is untouched").isEqualTo(goldenSha);
      assertIdentity(copy, golden, "vm1");
      assertNothingAttachedUnder(xfs.mountPoint.resolve("images"));
    }
  }

  @Test
  void onExt4ACloneCopiesOnlyTheAllocatedExtents() {
    DiskEngine engine = DiskTestSupport.engine(tmp.resolve("ext4-root"), tmp.resolve("allowed"));
    ImageInfo golden = template(engine);
    ImageInfo copy = cloneOf(engine, "copy", null, mine("vm2"));

    assertThat(copy.cloned().method()).isEqualTo(CloneMethod.SparseCopy);
    assertThat(copy.cloned().sharedBytes()).isZero();
    assertThat(allocated(copy.path()))
        .as("du of the clone against du of its source (" + allocated(golden.path()) + ")")
        .isBetween(allocated(golden.path()) - (2L << 20), allocated(golden.path()) + (4L << 20));
    assertThat(allocated(copy.path())).isLessThan(copy.capacityBytes() / 2);
    assertIdentity(copy, golden, "vm2");
  }

  @Test
  void aTailoredExt4CloneGetsItsIdentityWithoutAMountOrALoopDevice() throws Exception {
    Path root = tmp.resolve("no-mount");
    DiskEngine engine = DiskTestSupport.engine(root, tmp.resolve("allowed"));
    ImageInfo golden = template(engine);
    int loopsBefore = new LoopDeviceTable().inUse().size();

    ImageInfo copy;
    Set<String> seen;
    try (AttachWatcher watcher = new AttachWatcher(root)) {
      copy = cloneOf(engine, "copy", Populate.Method.Auto, mine("vm3"));
      seen = watcher.seen;
    }
    assertThat(seen)
        .as("loop devices and mounts on the images root while the clone was made")
        .isEmpty();
    assertIdentity(copy, golden, "vm3");
    assertThat(HostileInputs.entry(copy.path(), Filesystem.ext4, tmp, "/etc/motd").mode() & 07777)
        .isEqualTo(0600);
    assertThat(new LoopDeviceTable().inUse().size())
        .as("loop devices in use, machine-wide")
        .isLessThanOrEqualTo(loopsBefore);

    // The watcher does see a clone tailored through a loop mount: its empty answer above means
    // something.
    try (AttachWatcher watcher = new AttachWatcher(root)) {
      cloneOf(engine, "mounted", Populate.Method.LoopMount, mine("vm4"));
      assertThat(watcher.seen).as("what the watcher saw of a LoopMount clone").isNotEmpty();
    }
  }

  /**
   * The template's size is checked against spec.size before its copy, and a grow of it that ends in
   * between (it is refused only while the copy runs) is copied grown: the clone fails with what to
   * change instead of being published larger than its spec, with a size its metadata does not say.
   */
  /**
   * A clone that rewrites as many existing files and names as many existing directories as a spec
   * may (64 and 64): each path is looked at in the image first, and the look's answer (a hex dump
   * of each inode) was more than a tool's kept output, so such a clone always failed. The looks are
   * made in batches now; every file has its new content.
   */
  @Test
  void aCloneThatRewritesAsManyExistingFilesAsASpecMayIsTailored() throws Exception {
    Path tree = Files.createDirectories(tmp.resolve("allowed/many"));
    Files.createDirectories(tree.resolve("etc/conf.d"));
    List<String> dirs = new java.util.ArrayList<>();
    List<Tailor.File> files = new java.util.ArrayList<>();
    for (int i = 0; i < 64; i++) {
      Files.writeString(tree.resolve(String.format("etc/conf.d/f%02d", i)), "old " + i + "\n");
      Files.createDirectories(tree.resolve(String.format("srv/d%02d", i)));
      dirs.add(String.format("/srv/d%02d", i));
      files.add(new Tailor.File(String.format("/etc/conf.d/f%02d", i), "new " + i + "\n", "0644"));
    }
    DiskEngine engine = DiskTestSupport.engine(tmp.resolve("many-root"), tmp.resolve("allowed"));
    engine.build(
        request(
            "golden",
            spec(
                "64Mi",
                Filesystem.ext4,
                new Populate(
                    List.of(new Populate.HostPath(tree.toString(), "/")), null, null, null, null),
                GOLDEN)),
        ProgressListener.NONE);

    ImageInfo copy =
        engine.build(
            request(
                "many",
                spec(
                    "64Mi",
                    Filesystem.ext4,
                    new Populate(null, null, new Populate.CloneFrom("golden"), dirs, null),
                    new Tailor("many", null, files))),
            ProgressListener.NONE);

    for (int i : new int[] {0, 31, 63}) {
      assertThat(
              RUN.run(
                      "debugfs",
                      "-R",
                      String.format("cat /etc/conf.d/f%02d", i),
                      copy.path().toString())
                  .stdout())
          .isEqualTo("new " + i + "\n");
    }
    assertThat(RUN.run("debugfs", "-R", "cat /etc/hostname", copy.path().toString()).stdout())
        .isEqualTo("many\n");
  }

  @Test
  void aTemplateGrownAfterItsSizeCheckFailsTheCloneInsteadOfMakingItLarger() throws Exception {
    Path root = tmp.resolve("grown-before-copy");
    AtomicReference<Path> growBeforeCopy = new AtomicReference<>();
    CloneCopies copies =
        new CloneCopies(
            (file, own) -> {
              Path template = growBeforeCopy.getAndSet(null);
              if (template != null) { // what a grow that ends right before the copy leaves
                RUN.run("truncate", "-s", "96M", template.toString());
                RUN.run("resize2fs", template.toString());
              }
              return Holders.of(file, own);
            });
    DiskEngine engine =
        new DiskEngine(
            new EngineConfig(
                root,
                List.of(tmp.resolve("allowed")),
                Duration.ofSeconds(2),
                Duration.ofMinutes(5)),
            copies);
    try {
      ImageInfo golden = template(engine);
      growBeforeCopy.set(golden.path());

      DiskException e =
          catchThrowableOfType(
              () -> cloneOf(engine, "copy", null, mine("vm9")), DiskException.class);
      assertThat(e.code()).isEqualTo(ErrorCode.InvalidRequest);
      assertThat(e.getMessage())
          .isEqualTo(
              "cloneFrom 'golden' is 100663296 bytes now (grown, or its grow unfinished, since it"
                  + " was checked); spec.size (67108864 bytes) must be at least that");
      assertThat(growBeforeCopy.get()).as("the grow ran before the copy").isNull();
      assertThat(engine.inspect("default", "copy")).isEmpty();
      assertThat(engine.inventory().leftovers()).isEmpty();
      assertThat(engine.inventory().images()).extracting(ImageInfo::name).containsExactly("golden");
    } finally {
      engine.close();
    }
  }

  @Test
  void aTemplateMountedSinceItsLastCheckIsCheckedInTheCloneBeforeItsChecksumsAreRewritten() {
    // ext4 with metadata_csum, built through a loop mount. Its build's check is recorded in its
    // superblock, so tune2fs -U of a copy asks for no e2fsck -f; once a guest has mounted it (its
    // mount time set later, as a guest's clock would), tune2fs refuses until e2fsck -f has run.
    DiskEngine engine = DiskTestSupport.engine(tmp.resolve("mounted-root"), tmp.resolve("allowed"));
    Populate tree = tree(Populate.Method.LoopMount);
    ImageInfo golden =
        engine.build(
            request("golden", spec("64Mi", Filesystem.ext4, tree, GOLDEN)), ProgressListener.NONE);
    String header = RUN.run("dumpe2fs", "-h", golden.path().toString()).stdout();
    assertThat(header).contains("metadata_csum").doesNotContain("Last mount time:          n/a");
    assertThat(newUuidOfACopy(golden.path(), "built"))
        .as("tune2fs -U of a copy of the image as built")
        .isZero();
    RUN.run("debugfs", "-w", "-R", "ssv mtime 20300101000000", golden.path().toString());
    assertThat(newUuidOfACopy(golden.path(), "guest"))
        .as("tune2fs -U of a copy once a guest mounted it")
        .isEqualTo(1);
    String before = sha256(golden.path());

    ImageInfo copy = cloneOf(engine, "copy", Populate.Method.Auto, mine("vm5"));

    assertIdentity(copy, golden, "vm5");
    assertThat(sha256(golden.path())).as("the template, after its clone").isEqualTo(before);
    // the clone is a template too: a copy of it takes a new UUID with no whole check first
    assertThat(newUuidOfACopy(copy.path(), "clone"))
        .as("tune2fs -U of a copy of the clone")
        .isZero();
  }

  @Test
  void aTemplateStreamedToAnotherNodeIsClonedHereMeanwhileAndAnyOtherHolderStillRefuses()
      throws Exception {
    // A fleet across nodes: the template's agent streams it to one node (it reads it in its own
    // process, a window at a time) while a clone on its own node copies it. Both only read it.
    DiskEngine engine = DiskTestSupport.engine(tmp.resolve("stream-root"), tmp.resolve("allowed"));
    ImageInfo golden = template(engine);
    try (TransferSource stream = engine.openTransfer("default", "golden", golden.ownerUid());
        FileChannel window = FileChannel.open(golden.path(), StandardOpenOption.READ)) {
      ImageInfo copy = cloneOf(engine, "while-streamed", null, mine("vm9"));
      assertIdentity(copy, golden, "vm9");
      assertThat(stream.sizeBytes()).isEqualTo(golden.capacityBytes());
    }
    // Without a stream, the same open file in this process is what a guest's backend holding the
    // image looks like: the clone is refused.
    try (FileChannel held = FileChannel.open(golden.path(), StandardOpenOption.READ)) {
      DiskException e =
          catchThrowableOfType(
              () -> cloneOf(engine, "while-held", null, mine("vm10")), DiskException.class);
      assertThat(e).isNotNull();
      assertThat(e.code()).isEqualTo(ErrorCode.ImageInUse);
      assertThat(e.getMessage()).contains(ProcessHandle.current().pid() + " (");
    }
  }

  /** The exit code of tune2fs -U random on a copy of {@code image}. */
  private static int newUuidOfACopy(Path image, String name) {
    Path copy = tmp.resolve("copy-" + name + ".img");
    RUN.run("cp", "--sparse=always", image.toString(), copy.toString());
    try {
      return RUN.exec(
              List.of("tune2fs", "-U", "random", copy.toString()), Duration.ofMinutes(1), null)
          .exitCode();
    } finally {
      RUN.run("rm", "-f", copy.toString());
    }
  }

  @Test
  void anUncleanTemplateIsGivenTheSafeFixesABootWouldGiveItInTheCloneOnly() {
    // A guest's ext3 disk, stopped without unmounting and with a superblock count left wrong: the
    // clone gets e2fsck -p's fixes before its new UUID; the template is left as it is.
    DiskEngine engine = DiskTestSupport.engine(tmp.resolve("unclean-root"), tmp.resolve("allowed"));
    Populate tree = tree(null);
    ImageInfo golden =
        engine.build(
            request("golden", spec("64Mi", Filesystem.ext3, tree, GOLDEN)), ProgressListener.NONE);
    RUN.run("debugfs", "-w", "-R", "ssv state 0", golden.path().toString()); // "not clean"
    RUN.run("debugfs", "-w", "-R", "ssv free_inodes_count 7", golden.path().toString());
    assertThat(state(golden.path())).as("the template as the guest left it").isEqualTo("not clean");
    String before = sha256(golden.path());

    Populate p =
        new Populate(null, null, new Populate.CloneFrom("golden"), List.of("/srv/data"), null);
    Tailor t =
        new Tailor(
            "vm6",
            List.of(new Tailor.FstabEntry("self", "/", "ext3", "noatime", 0, 1)),
            List.of(new Tailor.File("/etc/motd", "welcome to vm6\n", "0600")));
    ImageInfo copy =
        engine.build(request("copy", spec("64Mi", Filesystem.ext3, p, t)), ProgressListener.NONE);

    assertThat(copy.filesystemUuid()).isNotEqualTo(golden.filesystemUuid());
    assertThat(fsck(copy.path())).as("e2fsck -fn of the clone").isZero();
    assertThat(state(copy.path())).isEqualTo("clean");
    assertThat(debugfsCat(copy.path(), "/etc/hostname")).isEqualTo("vm6\n");
    assertThat(debugfsCat(copy.path(), "/etc/fstab"))
        .contains("UUID=" + copy.filesystemUuid() + " / ext3 noatime 0 1");
    assertThat(sha256(golden.path())).as("the template, after its clone").isEqualTo(before);
  }

  @Test
  void aTemplateThatSaysCleanButIsNotIsRepairedInTheCloneAndCheckedBeforeAnyMount() {
    // A guest's ext4 that says clean, with its root's link count wrong: e2fsck -p alone would pass
    // it by. Tailored by debugfs, the clone's check finds it and e2fsck -f -p fixes it; tailored
    // through a loop mount, the whole check runs before dom0's kernel mounts it.
    DiskEngine engine = DiskTestSupport.engine(tmp.resolve("lying-root"), tmp.resolve("allowed"));
    ImageInfo golden =
        engine.build(
            request("golden", spec("64Mi", Filesystem.ext4, tree(Populate.Method.Offline), GOLDEN)),
            ProgressListener.NONE);
    // made by mke2fs -d and never mounted: checked as of its making, so tune2fs -U asks for no
    // e2fsck -f either
    RUN.run("debugfs", "-w", "-R", "sif / links_count 9", golden.path().toString());
    assertThat(state(golden.path())).isEqualTo("clean");
    assertThat(fsck(golden.path())).as("e2fsck -fn of the template").isNotZero();
    String before = sha256(golden.path());

    ImageInfo offline = cloneOf(engine, "offline", Populate.Method.Offline, mine("vm7"));
    assertIdentity(offline, golden, "vm7");
    ImageInfo mounted = cloneOf(engine, "mounted", Populate.Method.LoopMount, mine("vm8"));
    assertIdentity(mounted, golden, "vm8");
    assertThat(sha256(golden.path())).as("the template, after its clones").isEqualTo(before);
  }

  /**
   * Its own UUID (in the superblock and in fstab), hostname, motd and createDirs; a clean
   * filesystem.
   */
  private static void assertIdentity(ImageInfo copy, ImageInfo golden, String host) {
    assertThat(copy.filesystemUuid()).isNotEqualTo(golden.filesystemUuid());
    assertThat(
            RUN.run("blkid", "-p", "-o", "value", "-s", "UUID", copy.path().toString())
                .stdout()
                .strip())
        .isEqualTo(copy.filesystemUuid());
    assertThat(fsck(copy.path())).as("e2fsck -fn of the clone").isZero();
    assertThat(debugfsCat(copy.path(), "/etc/hostname")).isEqualTo(host + "\n");
    assertThat(debugfsCat(copy.path(), "/etc/fstab"))
        .contains("UUID=" + copy.filesystemUuid() + " / ext4 noatime 0 1");
    assertThat(debugfsCat(copy.path(), "/etc/motd")).isEqualTo("welcome to " + host + "\n");
    assertThat(HostileInputs.entry(copy.path(), Filesystem.ext4, tmp, "/srv/data").type())
        .isEqualTo("dir");
    assertThat(debugfsCat(golden.path(), "/etc/hostname"))
        .as("the source keeps its own")
        .isEqualTo("golden\n");
  }

  /** The exit code of e2fsck -f -n. */
  private static int fsck(Path image) {
    return RUN.exec(List.of("e2fsck", "-f", "-n", image.toString()), Duration.ofMinutes(1), null)
        .exitCode();
  }

  /** "Filesystem state:" of the superblock. */
  private static String state(Path image) {
    return RUN.run("dumpe2fs", "-h", image.toString())
        .stdout()
        .lines()
        .filter(l -> l.startsWith("Filesystem state:"))
        .map(l -> l.substring(17).strip())
        .findFirst()
        .orElseThrow();
  }

  static String debugfsCat(Path image, String path) {
    return RUN.run("debugfs", "-R", "cat " + path, image.toString()).stdout();
  }

  private static long used(Path mount) throws IOException {
    var store = Files.getFileStore(mount);
    return store.getTotalSpace() - store.getUnallocatedSpace();
  }

  /**
   * Bytes of the file's extents that xfs_io's fiemap flags shared (FIEMAP_EXTENT_SHARED, 0x2000).
   */
  private static long sharedByFiemap(Path file) {
    long sectors = 0;
    for (String line :
        RUN.run("xfs_io", "-r", "-c", "fiemap -v", file.toString()).stdout().split("\n")) {
      String[] f = line.trim().split("\\s+");
      if (f.length == 5 && f[0].matches("\\d+:") && (Long.decode(f[4]) & 0x2000) != 0)
        sectors += Long.parseLong(f[3]);
    }
    return sectors * 512;
  }

  /**
   * Records every loop device backed by a file under a directory, and every mount there, while it
   * is open.
   */
  static final class AttachWatcher implements AutoCloseable {
    final Set<String> seen = new ConcurrentSkipListSet<>();
    private final Thread thread;
    private volatile boolean stop;

    AttachWatcher(Path dir) {
      Path d = dir.toAbsolutePath().normalize();
      thread =
          new Thread(
              () -> {
                LoopDeviceTable loops = new LoopDeviceTable();
                MountTable mounts = new MountTable();
                while (!stop) {
                  loops.inUse().stream()
                      .filter(dev -> LoopDeviceTable.backingPath(dev).startsWith(d))
                      .forEach(dev -> seen.add(dev.name() + " backed by " + dev.backingFile()));
                  mounts.mountPointsUnder(d).forEach(m -> seen.add("mount on " + m));
                }
              },
              "attach-watcher");
      thread.setDaemon(true);
      thread.start();
    }

    @Override
    public void close() throws InterruptedException {
      stop = true;
      thread.join();
    }
  }
}
