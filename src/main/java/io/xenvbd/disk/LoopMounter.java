package io.xenvbd.disk;

import io.xenvbd.api.VirtualDiskSpec.Filesystem;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.attribute.PosixFilePermissions;
import java.time.Duration;
import java.util.List;
import java.util.function.Consumer;

/**
 * The recipe's {@code mount -o loop}: attaches an image to a free loop device (waiting up to
 * loopWait), mounts it on a temporary directory under the images root, runs the work, then always
 * unmounts and detaches — on failure and on interrupt too — and checks sysfs that nothing is left
 * attached.
 */
final class LoopMounter {
  /** Every mount of an image or a staging tree on dom0. */
  static final String MOUNT_OPTIONS = "nodev,nosuid,noexec";

  private final CommandRunner runner;
  private final ImagePaths paths;
  private final LoopDeviceTable loops;
  private final MountTable mounts;
  private final Duration loopWait;

  LoopMounter(
      CommandRunner runner,
      ImagePaths paths,
      LoopDeviceTable loops,
      MountTable mounts,
      Duration loopWait) {
    this.runner = runner;
    this.paths = paths;
    this.loops = loops;
    this.mounts = mounts;
    this.loopWait = loopWait;
  }

  /**
   * Mounts {@code image} read-write as {@code fs} and passes the mount point to {@code work}. The
   * type is always given: a guest writes its disk's bytes, and without {@code -t} blkid would let
   * those bytes choose which of dom0's filesystem drivers parses them.
   */
  void withMounted(Path image, Filesystem fs, Consumer<Path> work) {
    mounted(image, fs, false, work);
  }

  /**
   * As {@link #withMounted(Path, Filesystem, Consumer)}, for a build that fills the image: a {@link
   * WriteBack} writes the image out while {@code work} runs, so that the final {@code sync -f}
   * finds little left to write. The loop device keeps direct I/O: no second copy of the image in
   * dom0's page cache (with the write-out, measured as fast as buffered or a little faster: the
   * copy gains what the check loses reading the metadata back from disk). The final {@code sync -f}
   * flushes the loop device, which fsyncs the image file: once it returns, what was written through
   * the mount is on disk, and a write error through the loop device shows there (or in the
   * write-out) and fails the build.
   */
  void populate(Path image, Filesystem fs, Consumer<Path> work) {
    mounted(image, fs, true, work);
  }

  private void mounted(Path image, Filesystem fs, boolean writeBack, Consumer<Path> work) {
    Path mnt = paths.tempUnderRoot("mnt");
    try {
      Files.createDirectory(
          mnt, PosixFilePermissions.asFileAttribute(PosixFilePermissions.fromString("rwx------")));
    } catch (IOException e) {
      throw Io.wrap(e, "creating mount point " + mnt);
    }
    try {
      String dev = attach(image);
      // A tenant's or guest's filesystem: its device nodes, setuid files and programs stay dead on
      // dom0.
      runner.run("mount", "-t", mountType(fs), "-o", mountOptions(fs), dev, mnt.toString());
      // Stopped and joined before the sync below and the umount (a running sync keeps the mount
      // busy), also when work fails: its error then stays the one thrown.
      try (WriteBack w = writeBack ? WriteBack.start(runner, mnt) : null) {
        work.accept(mnt);
      }
      runner.run("sync", "-f", mnt.toString());
    } catch (DiskException e) {
      throw e.code() == ErrorCode.CommandFailed && backingFull(image) ? noSpace(image, e) : e;
    } finally {
      release(image, mnt);
    }
  }

  /**
   * The options of a mount of an image: {@link #MOUNT_OPTIONS}, and for ext* the reaction to an
   * error named, which ext4 otherwise takes from the superblock: a guest's {@code errors=panic}
   * (tune2fs -e, or its mount_opts string) would have an error during the agent's copy, such as a
   * full images root, panic dom0 and every guest on it (found in review). Named options override
   * the superblock's.
   */
  static String mountOptions(Filesystem fs) {
    return mountType(fs).equals("ext4") ? MOUNT_OPTIONS + ",errors=remount-ro" : MOUNT_OPTIONS;
  }

  /**
   * The kernel's type for {@code fs}: ext2 and ext3 through the ext4 driver, which mounts them on
   * every kernel (an ext3 made without its journal, for a journal added after the copy, is no
   * "ext3" to some).
   */
  static String mountType(Filesystem fs) {
    return switch (fs) {
      case ext2, ext3, ext4 -> "ext4";
      case xfs -> "xfs";
      case none -> throw new IllegalArgumentException("a raw disk has no filesystem to mount");
    };
  }

  /**
   * A staging tree for an Offline build: {@code staging} (root-only, 0700) holding {@code tree}
   * (0755, the new filesystem's root), which is bind-mounted onto itself nodev,nosuid,noexec, so
   * that what a tenant's archive or source puts there is never a live device or setuid program on
   * dom0. The caller's cleanup ({@link #release}) unmounts it with everything else under {@code
   * staging}.
   */
  Path stagingTree(Path staging) {
    Path tree = staging.resolve("tree");
    try {
      Files.createDirectory(
          staging,
          PosixFilePermissions.asFileAttribute(PosixFilePermissions.fromString("rwx------")));
      Files.createDirectory(tree);
      Files.setPosixFilePermissions(tree, PosixFilePermissions.fromString("rwxr-xr-x"));
    } catch (IOException e) {
      throw Io.wrap(e, "creating staging directory " + tree);
    }
    runner.run("mount", "--bind", "-o", MOUNT_OPTIONS, tree.toString(), tree.toString());
    return tree;
  }

  LoopDeviceTable loops() {
    return loops;
  }

  MountTable mounts() {
    return mounts;
  }

  /**
   * Through a loop device, a full images root shows up as an I/O error (the sparse backing file
   * cannot grow), not as ENOSPC. It is NoSpace when the root cannot hold what the image may still
   * need.
   */
  private boolean backingFull(Path image) {
    try {
      long unbacked = Files.size(image) - new Formatter(runner).allocated(image);
      return Files.getFileStore(paths.root()).getUsableSpace() < unbacked;
    } catch (IOException | RuntimeException e) {
      return false;
    }
  }

  private static DiskException noSpace(Path image, DiskException cause) {
    return new DiskException(
        ErrorCode.NoSpace,
        "the images root ran out of space while writing into "
            + image
            + " through its loop device ("
            + cause.getMessage()
            + "): free space on the images root, or preallocate",
        cause);
  }

  /** losetup --find --show, retried while every device is taken, until loopWait has passed. */
  String attach(Path image) {
    long deadline = System.nanoTime() + loopWait.toNanos();
    String lastError = "";
    while (true) {
      if (loops.status().hasFree()) {
        // Direct I/O: the loop device writes the image file without a second copy in dom0's page
        // cache, so the filesystem's writeback is the image's (the kernel falls back to buffered
        // I/O where the images root cannot do direct I/O).
        CommandRunner.Result r =
            runner.exec(
                List.of("losetup", "--find", "--show", "--direct-io=on", image.toString()),
                Duration.ofMinutes(1),
                null);
        if (r.ok()) return r.stdout().strip();
        lastError = r.stderr().strip();
        if (!lastError.contains("free loop device")
            && !lastError.contains("failed to set up loop device")
            && !lastError.contains("Device or resource busy")) {
          throw CommandRunner.failure(r);
        }
      }
      if (System.nanoTime() > deadline) throw exhausted(lastError);
      try {
        Thread.sleep(200);
      } catch (InterruptedException e) {
        throw new DiskException(
            ErrorCode.Interrupted, "interrupted while waiting for a free loop device", e);
      }
    }
  }

  private DiskException exhausted(String lastError) {
    LoopStatus s = loops.status();
    return new DiskException(
        ErrorCode.LoopDevicesExhausted,
        "no free loop device after waiting "
            + loopWait.toSeconds()
            + " s ("
            + s.inUse().size()
            + " in use of "
            + (s.max() <= 0 ? "unlimited" : s.max())
            + ")"
            + (lastError.isEmpty() ? "" : "; losetup: " + lastError)
            + ": stop a guest or detach an unused image, raise max_loop, or use populate.method"
            + " Offline (ext2/3/4)");
  }

  /**
   * Unmounts everything under {@code mnt}, detaches every loop device backed by {@code image},
   * removes {@code mnt}; to the end even if the calling thread is interrupted meanwhile.
   */
  void release(Path image, Path mnt) {
    Uninterruptible.run(
        "release",
        () -> {
          try {
            for (Path m : mounts.mountPointsUnder(mnt)) {
              CommandRunner.Result r =
                  runner.exec(List.of("umount", m.toString()), Duration.ofMinutes(5), null);
              if (!r.ok())
                runner.exec(List.of("umount", "--lazy", m.toString()), Duration.ofMinutes(1), null);
            }
            detach(image);
            Files.deleteIfExists(mnt);
          } catch (IOException | DiskException e) {
            // Reported by recover() and the inventory as a leftover; the original failure matters
            // more.
          }
        });
  }

  /**
   * Detaches loop devices still backed by {@code file} (umount's autoclear may not have done it),
   * and waits until none is. A sandbox that another build is starting at this moment holds a copy
   * of every mount for a few milliseconds (until it pivots away from dom0's root), which keeps the
   * unmounted filesystem, and so its loop device, alive a little longer.
   */
  void detach(Path file) {
    long deadline = System.nanoTime() + DETACH_WAIT.toNanos();
    List<String> devs = loops.devicesBackedBy(file);
    while (!devs.isEmpty()) {
      for (String dev : devs)
        runner.exec(List.of("losetup", "-d", dev), Duration.ofMinutes(1), null);
      devs = loops.devicesBackedBy(file);
      if (devs.isEmpty() || System.nanoTime() > deadline) return;
      try {
        Thread.sleep(20);
      } catch (InterruptedException e) {
        Thread.currentThread()
            .interrupt(); // callers run this uninterruptibly; keep the flag for them
        return;
      }
    }
  }

  private static final Duration DETACH_WAIT = Duration.ofSeconds(10);
}
