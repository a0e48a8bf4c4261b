package io.xenvbd.disk;

import static io.xenvbd.disk.DiskTestSupport.engine;
import static io.xenvbd.disk.DiskTestSupport.request;
import static io.xenvbd.disk.DiskTestSupport.spec;
import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.catchThrowable;

import io.xenvbd.api.Populate;
import io.xenvbd.api.VirtualDiskSpec;
import io.xenvbd.api.VirtualDiskSpec.Filesystem;
import io.xenvbd.testing.RequiresRoot;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.List;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicBoolean;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * Attacks of the hostile review (branch review): each test fails while its hole is open. They
 * assert what an attacker would check, never timings.
 */
@RequiresRoot
class ReviewAttackTest {
  @TempDir Path tmp;

  /**
   * ext4 takes its reaction to an error from the superblock unless the mount names one: a guest's
   * {@code errors=panic} (tune2fs -e, or the mount_opts string) governed the agent's mount of its
   * filesystem (a LoopMount clone, content copied onto a clone), and a full images root during the
   * copy is an error that would then panic dom0 and every guest on it (found in review).
   */
  @Test
  void aGuestsErrorsPanicDoesNotGovernTheAgentsMountOfItsFilesystem() throws Exception {
    Path root = Files.createDirectories(tmp.resolve("errors"));
    Path image = root.resolve("guest.img");
    DiskTestSupport.RUN.run("truncate", "-s", "16M", image.toString());
    DiskTestSupport.RUN.run("mkfs.ext4", "-q", "-F", image.toString());
    // what a guest writes into its own superblock
    DiskTestSupport.RUN.run(
        "tune2fs", "-e", "panic", "-E", "mount_opts=errors=panic", image.toString());
    LoopMounter mounter =
        new LoopMounter(
            DiskTestSupport.RUN,
            new ImagePaths(root, List.of()),
            new LoopDeviceTable(),
            new MountTable(),
            Duration.ofSeconds(30));
    String[] options = new String[1];
    mounter.populate(image, Filesystem.ext4, mnt -> options[0] = ext4Options(mnt));
    assertThat(options[0]).contains("errors=remount-ro").doesNotContain("errors=panic");
    DiskTestSupport.assertNothingAttachedUnder(root);
  }

  /**
   * What a guest can write into its own ext4 (found in review): a file without extents whose
   * triple-indirect pointer names a block whose first 800 entries name that block again: 800^3
   * block visits, each of which e2fsck records, so its memory grew by 80 MB/s without end (24 GB on
   * this machine before the OOM killer stopped it). A clone of it checks the template's copy: that
   * check now stops at the tools' memory limit, and the clone fails instead of taking dom0's
   * memory.
   */
  @Test
  void aTemplateWhoseMetadataMakesItsCheckGrowForeverFailsTheCloneAtTheToolsMemoryLimit()
      throws Exception {
    Path root = tmp.resolve("images");
    DiskEngine engine = engine(root);
    ImageInfo golden =
        // 1 GiB for 4 KiB blocks (a smaller one gets 1 KiB blocks, 256 pointers a block)
        engine.build(request("golden", spec("1Gi", Filesystem.ext4)), ProgressListener.NONE);
    Path image = golden.path();
    byte[] data = new byte[4096];
    new java.util.Random(7).nextBytes(data); // zeros would be written as a hole, with no block
    Path staged = Files.write(tmp.resolve("r4k"), data);
    DiskTestSupport.RUN.run("debugfs", "-w", "-R", "write " + staged + " blk", image.toString());
    long b =
        Long.parseLong(
            DiskTestSupport.RUN
                .run("debugfs", "-R", "blocks blk", image.toString())
                .stdout()
                .strip()
                .split(" ")[0]);
    java.nio.ByteBuffer pointers =
        java.nio.ByteBuffer.allocate(4096).order(java.nio.ByteOrder.LITTLE_ENDIAN);
    for (int i = 0; i < 800; i++) pointers.putInt((int) b);
    try (var ch =
        java.nio.channels.FileChannel.open(image, java.nio.file.StandardOpenOption.WRITE)) {
      ch.write(pointers.rewind(), b * 4096); // the whole block: the rest of it zeros
    }
    StringBuilder script = new StringBuilder("write /dev/null f1\nsif f1 flags 0\n");
    for (int i = 0; i < 15; i++) script.append("sif f1 block[").append(i).append("] 0\n");
    script.append("sif f1 block[TIND] ").append(b).append("\nsif f1 size 0x1F400000000\n");
    Path cmds = Files.writeString(tmp.resolve("cmds"), script.toString());
    DiskTestSupport.RUN.run("debugfs", "-w", "-f", cmds.toString(), image.toString());

    Populate clone = new Populate(null, null, new Populate.CloneFrom("golden"), null, null);
    Throwable t =
        org.junit.jupiter.api.Assertions.assertTimeoutPreemptively(
            Duration.ofMinutes(2),
            () ->
                catchThrowable(
                    () ->
                        engine.build(
                            request(
                                "clone",
                                spec(
                                    "1Gi",
                                    Filesystem.ext4,
                                    clone,
                                    new io.xenvbd.api.Tailor("clone", null, null))),
                            ProgressListener.NONE)));
    assertThat(t).isInstanceOf(DiskException.class);
    assertThat(t.getMessage()).containsAnyOf("Memory allocation failed", "ran out of the memory");
    assertThat(Files.exists(root.resolve("default/clone.img"))).isFalse();
    DiskTestSupport.assertNothingAttachedUnder(tmp);
  }

  /** The options ext4 applies to the filesystem mounted at {@code mnt} (not all are in mounts). */
  private static String ext4Options(Path mnt) {
    try {
      for (String line : Files.readAllLines(Path.of("/proc/self/mountinfo"))) {
        String[] f = line.split(" ");
        if (!MountTable.unescape(f[4]).equals(mnt.toString())) continue;
        String source = f[java.util.Arrays.asList(f).indexOf("-") + 2];
        Path dev = Path.of(source).getFileName();
        return Files.readString(
            Path.of("/proc/fs/ext4").resolve(dev.toString()).resolve("options"));
      }
    } catch (java.io.IOException e) {
      throw new java.io.UncheckedIOException(e);
    }
    throw new AssertionError(mnt + " is not mounted");
  }

  /**
   * The filesystem tools' sandbox (Sandbox.onImage) mounts a /proc whose /proc/sys is writable by
   * the sandbox's root: a tool that a crafted filesystem takes over can set kernel.core_pattern to
   * "|/any/host program", which the kernel then runs as root in dom0's namespaces on the next
   * crash. The probe writes the value the setting already has (no change to this machine); the
   * write must fail.
   */
  @Test
  void aFilesystemToolInTheSandboxCannotWriteDom0sKernelSettings() throws Exception {
    Path image = tmp.resolve("x.img");
    Files.write(image, new byte[4096]);
    CommandRunner.Result r =
        new Sandbox(DiskTestSupport.RUN)
            .onImage(
                image,
                null,
                List.of(
                    "sh",
                    "-c",
                    "v=$(cat /proc/sys/kernel/core_pattern) && printf '%s\\n' \"$v\" > /proc/sys/kernel/core_pattern"
                        + " && echo WROTE"),
                Duration.ofMinutes(1));
    assertThat(r.stdout())
        .as("a sandboxed fs tool rewrote dom0's kernel.core_pattern")
        .doesNotContain("WROTE");
  }

  /**
   * An images root given through a symbolic link (/var/lib/xen/images -> /srv/images, common on
   * dom0s): the kernel reports holders by their real path (/proc/PID/fd, loop backing_file,
   * mountinfo), the engine compares with the link path. A qdisk guest's process holding the image
   * is not seen: delete goes ahead.
   */
  @Test
  void anImageHeldOpenUnderASymlinkedImagesRootIsNotDeleted() throws Exception {
    Path real = Files.createDirectories(tmp.resolve("real"));
    Path root = Files.createSymbolicLink(tmp.resolve("images"), real);
    DiskEngine engine = engine(root);
    ImageInfo info =
        engine.build(request("qdisk", spec("16Mi", Filesystem.ext4)), ProgressListener.NONE);
    Process qemu = InUseTest.holder(info.path());
    try {
      Throwable delete = catchThrowable(() -> engine.delete("default", "qdisk", "uid-qdisk"));
      assertThat(info.path()).as("the image a running guest holds was deleted").exists();
      assertThat(delete).isInstanceOf(DiskException.class);
      assertThat(((DiskException) delete).code()).isEqualTo(ErrorCode.ImageInUse);
    } finally {
      qemu.destroyForcibly().waitFor(10, TimeUnit.SECONDS);
      engine.close();
    }
  }

  /**
   * The same root: a loop-attached image (Xen's file: backend via losetup) is grown, which corrupts
   * a live guest.
   */
  @Test
  void anImageOnALoopDeviceUnderASymlinkedImagesRootIsNotGrown() throws Exception {
    Path real = Files.createDirectories(tmp.resolve("real"));
    Path root = Files.createSymbolicLink(tmp.resolve("images"), real);
    DiskEngine engine = engine(root);
    ImageInfo info =
        engine.build(request("phy", spec("16Mi", Filesystem.ext4)), ProgressListener.NONE);
    String dev =
        DiskTestSupport.RUN
            .run("losetup", "--find", "--show", info.path().toString())
            .stdout()
            .strip();
    try {
      Throwable grow =
          catchThrowable(
              () ->
                  engine.grow(
                      request("phy", spec("32Mi", Filesystem.ext4)), ProgressListener.NONE));
      assertThat(Files.size(info.path()))
          .as("the image attached to " + dev + " was grown under the guest")
          .isEqualTo(16L << 20);
      assertThat(grow).isInstanceOf(DiskException.class);
    } finally {
      DiskTestSupport.RUN.exec(List.of("losetup", "-d", dev), Duration.ofMinutes(1), null);
      engine.close();
    }
  }

  /**
   * The same root, no attacker at all: a LoopMount build's release() looks for its mount and loop
   * device by the link path, finds neither, and leaves both behind (and the image is published
   * while mounted).
   */
  @Test
  void aLoopMountBuildUnderASymlinkedImagesRootLeavesNoMountOrLoopDevice() throws Exception {
    Path real = Files.createDirectories(tmp.resolve("real"));
    Path root = Files.createSymbolicLink(tmp.resolve("images"), real);
    DiskEngine engine = engine(root);
    try {
      engine.build(
          request(
              "lm",
              spec(
                  "16Mi",
                  Filesystem.ext4,
                  new Populate(null, null, null, List.of("/home"), Populate.Method.LoopMount),
                  null)),
          ProgressListener.NONE);
      DiskTestSupport.assertNothingAttachedUnder(real);
    } finally {
      for (Path m : new MountTable().mountPointsUnder(real)) {
        DiskTestSupport.RUN.exec(
            List.of("umount", "--lazy", m.toString()), Duration.ofMinutes(1), null);
      }
      for (String d : new LoopDeviceTable().devicesBackedBy(real)) {
        DiskTestSupport.RUN.exec(List.of("losetup", "-d", d), Duration.ofMinutes(1), null);
      }
      engine.close();
    }
  }

  /**
   * hostPaths: allowedSource() resolves the source and checks the real path, then bwrap --ro-bind
   * resolves the same path again when the copy starts. Whoever can write the allowed directory (the
   * threat the archive path already defends against) swaps the checked directory for a link between
   * the two, and dom0's protected directory (here a stand-in for the agent's token dir, or another
   * namespace's images) is copied into the tenant's disk. Bounded: at most 20 builds while a thread
   * flips the name.
   */
  @Test
  void aHostPathSwappedForALinkAfterItsCheckDoesNotCopyWhatTheLinkNames() throws Exception {
    Path allowed = Files.createDirectories(tmp.resolve("allowed"));
    Path src = Files.createDirectories(allowed.resolve("src"));
    Files.writeString(src.resolve("ok.txt"), "allowed content");
    Path aside = allowed.resolve("aside");
    Path victim = Files.createDirectories(tmp.resolve("secret-dir"));
    Files.writeString(victim.resolve("token"), "DOM0-SECRET");
    DiskEngine engine = engine(tmp.resolve("images"), allowed);
    AtomicBoolean stop = new AtomicBoolean();
    Thread flipper =
        new Thread(
            () -> {
              try {
                while (!stop.get()) {
                  Files.move(src, aside);
                  Files.createSymbolicLink(src, victim);
                  Thread.sleep(3);
                  Files.delete(src);
                  Files.move(aside, src);
                  Thread.sleep(3);
                }
              } catch (Exception e) {
                throw new RuntimeException(e);
              }
            });
    flipper.start();
    int leaked = 0;
    try {
      for (int i = 0; i < 20 && leaked == 0; i++) {
        String name = "t" + i;
        try {
          ImageInfo info =
              engine.build(
                  request(
                      name,
                      spec(
                          "16Mi",
                          Filesystem.ext4,
                          new Populate(
                              List.of(new Populate.HostPath(src.toString(), "/copy")),
                              null,
                              null,
                              null,
                              Populate.Method.Offline),
                          null)),
                  ProgressListener.NONE);
          CommandRunner.Result r =
              DiskTestSupport.RUN.exec(
                  List.of("debugfs", "-R", "cat /copy/token", info.path().toString()),
                  Duration.ofMinutes(1),
                  null);
          if (r.stdout().contains("DOM0-SECRET")) leaked++;
        } catch (DiskException refusedMidFlip) {
          // the check saw the link or nothing: the defence held for this build
        }
      }
    } finally {
      stop.set(true);
      flipper.join(5000);
      engine.close();
    }
    assertThat(leaked)
        .as("builds whose disk holds the file of a directory outside every allowed source")
        .isZero();
  }

  /**
   * A guest owns its xfs disk's bytes and rewrites them as another filesystem (here ext4; any type
   * the kernel has would do: btrfs, squashfs, erofs). Growing the disk loop-mounts it for
   * xfs_growfs: a mount without -t lets blkid pick the driver from the guest's bytes, so dom0's
   * kernel parses a filesystem of the guest's choosing. The canary is the guest's own ext4
   * superblock: its mount count says whether dom0's kernel mounted it.
   */
  @Test
  void aGrowMountsAGuestsDiskOnlyAsTheFilesystemItsSpecNames() throws Exception {
    DiskEngine engine = engine(tmp.resolve("images"));
    try {
      ImageInfo info =
          engine.build(request("g", spec("320Mi", Filesystem.xfs)), ProgressListener.NONE);
      // what the guest writes through its block device: a filesystem of another type
      DiskTestSupport.RUN.run("mkfs.ext4", "-q", "-F", info.path().toString());
      Throwable grow =
          catchThrowable(
              () ->
                  engine.grow(request("g", spec("352Mi", Filesystem.xfs)), ProgressListener.NONE));
      String header = DiskTestSupport.RUN.run("dumpe2fs", "-h", info.path().toString()).stdout();
      assertThat(header)
          .as("the guest's ext4 superblock after dom0 grew its 'xfs' disk")
          .containsPattern("(?m)^Mount count:\\s+0$");
      assertThat(grow).isInstanceOf(DiskException.class);
      DiskTestSupport.assertNothingAttachedUnder(tmp.resolve("images"));
    } finally {
      engine.close();
    }
  }

  /**
   * A guest that wrote to its disk every few blocks (a used filesystem looks like this; a hostile
   * tenant makes it on purpose) gives its file tens of thousands of extents. The extent report was
   * read as a tool's kept output, cut at 64 KiB (about 1 900 extents): a clone of it, local or
   * streamed to another node, silently lacked everything after the cut. Both are the source byte
   * for byte now.
   */
  @Test
  void aTemplateAGuestWroteToEveryFewBlocksIsClonedAndStreamedWhole() throws Exception {
    DiskEngine a = engine(tmp.resolve("frag-a"));
    DiskEngine b = engine(tmp.resolve("frag-b"));
    try {
      ImageInfo base =
          a.build(request("base", spec("256Mi", Filesystem.none)), ProgressListener.NONE);
      int blocks = 20_000;
      try (java.nio.channels.FileChannel guest =
          java.nio.channels.FileChannel.open(base.path(), java.nio.file.StandardOpenOption.WRITE)) {
        java.nio.ByteBuffer block = java.nio.ByteBuffer.allocate(4096);
        for (int i = 0; i < blocks; i++) {
          block.clear();
          block.putInt(0, i + 1);
          guest.write(block, i * 12288L);
        }
      }
      VirtualDiskSpec cloneSpec =
          spec(
              "256Mi",
              Filesystem.none,
              new Populate(null, null, new Populate.CloneFrom("base"), null, null),
              null);
      ImageInfo local = a.build(request("local", cloneSpec), ProgressListener.NONE);
      assertThat(Files.mismatch(base.path(), local.path())).as("the local clone").isEqualTo(-1L);

      try (TransferSource source = a.openTransfer("default", "base", base.ownerUid())) {
        TransferReceiver.Windows windows =
            credential -> {
              java.io.ByteArrayOutputStream out = new java.io.ByteArrayOutputStream();
              source.writeWindow(out, source.nextWindow(), () -> "B".repeat(43));
              return new java.io.ByteArrayInputStream(out.toByteArray());
            };
        ImageInfo streamed =
            b.build(
                request("streamed", cloneSpec),
                ProgressListener.NONE,
                new RemoteClone("node-a", windows, "A".repeat(43)));
        assertThat(Files.mismatch(base.path(), streamed.path()))
            .as("the clone streamed to another node")
            .isEqualTo(-1L);
      }
    } finally {
      a.close();
      b.close();
    }
  }

  /**
   * A clone streamed from another node arrives in a temporary file beside the new image; the build
   * then copied that file into the image's temporary, so for a moment the node held the source's
   * data twice: a tenant's cross-node clones cost the node twice what its ledger reserved for them.
   * The canary is the images root's allocated bytes, looked at on every progress call of the build.
   */
  @Test
  void aCrossNodeCloneHoldsItsDataOnceWhileItIsBuilt() throws Exception {
    Path allowed = Files.createDirectories(tmp.resolve("allowed/tree"));
    byte[] data = new byte[40 << 20];
    new java.util.Random(7).nextBytes(data);
    Files.write(allowed.resolve("big"), data);
    DiskEngine a = engine(tmp.resolve("a"), tmp.resolve("allowed"));
    Path rootB = tmp.resolve("b");
    DiskEngine b = engine(rootB);
    try {
      a.build(
          request(
              "base",
              spec(
                  "64Mi",
                  Filesystem.ext4,
                  new Populate(
                      List.of(new Populate.HostPath(allowed.toString(), "/data")),
                      null,
                      null,
                      null,
                      null),
                  null)),
          ProgressListener.NONE);
      try (TransferSource source = a.openTransfer("default", "base", "uid-base")) {
        List<Long> windowLengths = new java.util.ArrayList<>();
        TransferReceiver.Windows windows =
            credential -> {
              java.io.ByteArrayOutputStream out = new java.io.ByteArrayOutputStream();
              TransferSource.Window w = source.nextWindow();
              source.writeWindow(out, w, () -> "B".repeat(43));
              windowLengths.add(out.size() - w.length()); // 0: exactly its Content-Length
              return new java.io.ByteArrayInputStream(out.toByteArray());
            };
        long[] peak = {0};
        ProgressListener watch =
            (stage, done, total, percent) -> peak[0] = Math.max(peak[0], allocatedUnder(rootB));
        ImageInfo copy =
            b.build(
                request(
                    "copy",
                    spec(
                        "64Mi",
                        Filesystem.ext4,
                        new Populate(null, null, new Populate.CloneFrom("base"), null, null),
                        new io.xenvbd.api.Tailor("copy", null, null))),
                watch,
                new RemoteClone("node-a", windows, "A".repeat(43)));
        long once = DiskTestSupport.allocated(copy.path());
        assertThat(peak[0])
            .as("bytes the images root held during the clone, against the clone's own")
            .isLessThan(once + (8L << 20));
        // 40 MiB of data came in several windows, each of exactly the length planned for it
        assertThat(windowLengths).hasSizeGreaterThan(1).containsOnly(0L);
      }
    } finally {
      a.close();
      b.close();
    }
  }

  private static long allocatedUnder(Path root) {
    try (var walk = Files.walk(root)) {
      return walk.filter(p -> Files.isRegularFile(p, java.nio.file.LinkOption.NOFOLLOW_LINKS))
          .mapToLong(DiskTestSupport::allocated)
          .sum();
    } catch (java.io.IOException e) {
      throw new java.io.UncheckedIOException(e);
    }
  }

  /**
   * A peer with the source node's certificate ends the stream with a refusal whose text it chose:
   * 60000 characters with newlines that imitate the agent's own lines. That text goes into the
   * tenant's VirtualDisk status on another node; it must arrive as one bounded, printable line.
   */
  @Test
  void aPeersRefusalTextReachesTheStatusAsOneBoundedLine() throws Exception {
    java.io.ByteArrayOutputStream bytes = new java.io.ByteArrayOutputStream();
    java.io.DataOutputStream d = new java.io.DataOutputStream(bytes);
    String forged = "ok\nphase=Ready\u001b[2J".repeat(3000);
    byte[] message = forged.getBytes(java.nio.charset.StandardCharsets.UTF_8);
    int n = TransferFormat.TRAILER_BYTES - 3; // as much of it as a trailer holds
    d.writeByte('W');
    d.writeLong(18 + 4 + TransferFormat.TRAILER_BYTES);
    d.writeByte('H');
    d.writeLong(1 << 20);
    d.writeLong(0);
    d.writeByte(4);
    d.writeBytes("ext4");
    d.writeByte('X');
    d.writeShort(n);
    d.write(message, 0, n);
    Path file = tmp.resolve("received.img");
    Throwable t =
        catchThrowable(
            () ->
                TransferReceiver.receive(
                    credential -> new java.io.ByteArrayInputStream(bytes.toByteArray()),
                    "A".repeat(43),
                    file,
                    1 << 20,
                    "ext4",
                    ProgressListener.NONE));
    assertThat(t).isInstanceOf(DiskException.class);
    assertThat(t.getMessage()).doesNotContain("\n").doesNotContain("\u001b");
    assertThat(t.getMessage().length()).isLessThan(600);
  }
}
