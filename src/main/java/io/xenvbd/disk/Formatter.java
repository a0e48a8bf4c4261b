package io.xenvbd.disk;

import io.xenvbd.api.VirtualDiskSpec.Filesystem;
import java.io.IOException;
import java.io.RandomAccessFile;
import java.nio.file.Files;
import java.nio.file.LinkOption;
import java.nio.file.Path;
import java.nio.file.attribute.FileTime;
import java.nio.file.attribute.PosixFilePermissions;
import java.time.Duration;
import java.time.Instant;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.TimeUnit;

/**
 * Creates image files (sparse or preallocated), makes filesystems, checks them and reads their
 * UUID. Every filesystem tool runs in the {@link Sandbox} with only the image (and a staging tree)
 * in reach: what it reads may have been written by a guest or a tenant.
 */
public final class Formatter {
  /**
   * ext3 always zeroes its journal (lazy_journal_init does not apply): keep it small so the image
   * stays sparse.
   */
  private static final long EXT3_SMALL_JOURNAL_FROM = 32L << 20;

  private final CommandRunner runner;
  private final Sandbox sandbox;
  private final ToolSession session;

  public Formatter(CommandRunner runner) {
    this.runner = runner;
    this.sandbox = new Sandbox(runner);
    this.session = new ToolSession(sandbox);
  }

  /**
   * A filesystem tool on {@code image} ({@link Sandbox#IMAGE} in {@code command}); exit 0 required.
   */
  private CommandRunner.Result tool(Path image, Path staging, List<String> command) {
    CommandRunner.Result r = sandbox.onImage(image, staging, command, runner.defaultTimeout());
    if (!r.ok()) throw CommandRunner.failure(r);
    return r;
  }

  /**
   * A file of exactly {@code size} apparent bytes; sparse (nothing written) unless preallocated.
   */
  public void create(Path image, long size, boolean preallocate) {
    try (RandomAccessFile f = new RandomAccessFile(image.toFile(), "rw")) {
      f.setLength(size);
      privateFile(image);
    } catch (IOException e) {
      throw Io.wrap(e, "creating " + image);
    }
    if (preallocate) preallocate(image, 0, size);
  }

  /** 0600: an image holds a guest's whole disk, its /etc/shadow included. */
  static void privateFile(Path file) throws IOException {
    Files.setPosixFilePermissions(file, PosixFilePermissions.fromString("rw-------"));
  }

  /** Allocates every block of [offset, offset+length) without writing zeros. */
  public void preallocate(Path image, long offset, long length) {
    if (length <= 0) return;
    CommandRunner.Result r =
        runner.exec(
            List.of(
                "fallocate",
                "-o",
                Long.toString(offset),
                "-l",
                Long.toString(length),
                image.toString()),
            Duration.ofMinutes(30),
            null);
    if (r.ok()) return;
    if (r.stderr().contains("Operation not supported")) {
      throw new DiskException(
          ErrorCode.CommandFailed,
          "preallocate is not supported by the images root's filesystem"
              + " (fallocate: "
              + r.stderr().strip()
              + "): set spec.preallocate to false or put the images root on ext4/xfs");
    }
    throw CommandRunner.failure(r);
  }

  /**
   * Makes the filesystem; for ext*, {@code staging} (may be null) becomes its content (mke2fs -d).
   */
  public void format(
      Path image, Filesystem fs, long size, String uuid, Path staging, boolean preallocated) {
    switch (fs) {
      case none -> {}
      case xfs -> {
        if (staging != null)
          throw DiskException.invalid(
              "xfs cannot be populated Offline: use method LoopMount or Auto");
        List<String> cmd = new ArrayList<>(List.of("mkfs.xfs", "-f", "-q", "-m", "uuid=" + uuid));
        if (preallocated) cmd.add("-K");
        cmd.add(Sandbox.IMAGE);
        tool(image, null, cmd);
      }
      default ->
          tool(
              image,
              staging,
              mke2fs(
                  Path.of(Sandbox.IMAGE),
                  fs,
                  size,
                  uuid,
                  staging == null ? null : Path.of(Sandbox.STAGING),
                  preallocated,
                  false));
    }
  }

  /**
   * ext3 to be filled through a mount: made without a journal, so that the copy's metadata is
   * written once (not to the journal first) and the 4 MiB journal is not zeroed before the copy;
   * {@link #finishAndCheck} adds it, as mke2fs would have made it, once the image is unmounted. A
   * crash meanwhile is safe: the image is still under its temporary name and is removed, never
   * published. ext4 keeps its journal from mke2fs: there it is lazily initialised (never zeroed),
   * while tune2fs -j would zero all 64 MiB of it (measured: 66 MiB allocated instead of 1.2 MiB).
   * Other filesystems: the same as {@link #format}.
   */
  public void formatJournalLater(
      Path image, Filesystem fs, long size, String uuid, boolean preallocated) {
    if (!journalLater(fs)) {
      format(image, fs, size, uuid, null, preallocated);
      return;
    }
    tool(image, null, mke2fs(Path.of(Sandbox.IMAGE), fs, size, uuid, null, preallocated, true));
  }

  static boolean journalLater(Filesystem fs) {
    return fs == Filesystem.ext3;
  }

  private static List<String> journalSize(Filesystem fs, long size) {
    return fs == Filesystem.ext3 && size >= EXT3_SMALL_JOURNAL_FROM
        ? List.of("-J", "size=4")
        : List.of();
  }

  /**
   * Discard on an image file punches holes: for a sparse image that is what lets mke2fs (and
   * mkfs.xfs) skip zeroing inode tables and log, since the holes read as zeros; for a preallocated
   * image it would undo the allocation, so there it is turned off (nodiscard / -K).
   */
  static List<String> mke2fs(
      Path image,
      Filesystem fs,
      long size,
      String uuid,
      Path staging,
      boolean preallocated,
      boolean noJournal) {
    List<String> cmd = new ArrayList<>(List.of("mke2fs", "-F", "-q", "-t", fs.name(), "-U", uuid));
    if (noJournal) cmd.addAll(List.of("-O", "^has_journal"));
    String nodiscard = preallocated ? ",nodiscard" : "";
    if (fs == Filesystem.ext4) {
      // Inode tables and journal are zeroed later by the kernel (or never, for an image that stays
      // small): a fresh 2 GiB ext4 occupies ~1 MiB instead of ~65 MiB.
      cmd.addAll(List.of("-E", "lazy_itable_init=1,lazy_journal_init=1" + nodiscard));
    } else if (fs == Filesystem.ext3) {
      cmd.addAll(List.of("-E", "lazy_itable_init=1" + nodiscard));
      if (!noJournal) cmd.addAll(journalSize(fs, size));
    } else {
      cmd.addAll(List.of("-E", "lazy_itable_init=1" + nodiscard));
    }
    if (staging != null) cmd.addAll(List.of("-d", staging.toString()));
    cmd.add(image.toString());
    return cmd;
  }

  /**
   * The end of a build in one sandbox run: the journal {@link #formatJournalLater} left out (when
   * {@code addJournal}), the read-only check ({@link #check}: it must pass) and the UUID as blkid
   * reads it ({@link #uuid}); returns that UUID, null for a raw image or where blkid finds none.
   */
  public String finishAndCheck(Path image, Filesystem fs, long size, boolean addJournal) {
    if (fs == Filesystem.none) return null;
    return uuidOf(
        session.runEach(image, null, checkSteps(fs, size, addJournal, false), longTimeout()));
  }

  /**
   * The end of a clone's build with nothing to write into it: {@code identity} (its new UUID,
   * {@link #newUuidSteps}) and the check with {@code repair}, in one sandbox run; returns the UUID.
   */
  String checkClone(Path image, Filesystem fs, long size, List<ToolSession.Step> identity) {
    if (fs == Filesystem.none) return null;
    List<ToolSession.Step> steps = new ArrayList<>(identity);
    steps.addAll(checkSteps(fs, size, false, true));
    return uuidOf(session.runEach(image, null, steps, longTimeout()));
  }

  /**
   * The steps of {@link #finishAndCheck}: the journal left out, the check, and last blkid's UUID
   * (read by {@link #uuidOf}). {@code repair} (a clone whose source a guest wrote, checked for the
   * first time): an ext2/3/4 check that fails is followed by e2fsck -f -p's safe fixes and the
   * check once more, as the whole check before a new UUID always did; a build's own filesystem that
   * fails its check fails the build.
   */
  List<ToolSession.Step> checkSteps(Filesystem fs, long size, boolean addJournal, boolean repair) {
    List<ToolSession.Step> steps = new ArrayList<>();
    if (addJournal && journalLater(fs)) {
      List<String> cmd = new ArrayList<>(List.of("tune2fs", "-j"));
      cmd.addAll(journalSize(fs, size));
      cmd.add(Sandbox.IMAGE);
      steps.add(new ToolSession.Step(cmd, 0, false));
    }
    ToolSession.Step check = ToolSession.Step.required("e2fsck", "-f", "-n", Sandbox.IMAGE);
    steps.add(
        fs == Filesystem.xfs
            ? ToolSession.Step.required("xfs_repair", "-n", Sandbox.IMAGE)
            : repair ? check.recoveredBy(preenStep()) : check);
    // The check passed: its time goes in the superblock, as e2fsck -f -p would have written it,
    // so that tune2fs -U of a clone of this image (metadata_csum, mounted while it was built) asks
    // for no second whole check. A clone's check (repair) needs none: its build mounts nothing,
    // and its tune2fs -U, which refuses a metadata_csum filesystem mounted since its last check,
    // had e2fsck -f -p write the time first where the source's superblock asked for it (measured:
    // one tool, ~3 ms, less per clone of a fleet).
    if (fs != Filesystem.xfs && !repair)
      steps.add(ToolSession.Step.required("tune2fs", "-T", "now", Sandbox.IMAGE));
    steps.add(
        new ToolSession.Step(
            List.of("blkid", "-p", "-o", "value", "-s", "UUID", Sandbox.IMAGE), 255, true));
    return steps;
  }

  /** The UUID blkid printed, the last of {@link #checkSteps}; null where it found none. */
  static String uuidOf(List<ToolSession.Outcome> outcomes) {
    String v = outcomes.get(outcomes.size() - 1).stdout().strip();
    return v.isEmpty() || v.contains("\n") ? null : v;
  }

  /** Read-only check: e2fsck -fn / xfs_repair -n. Throws CommandFailed with the tool's report. */
  public void check(Path image, Filesystem fs) {
    switch (fs) {
      case none -> {}
      case xfs -> tool(image, null, List.of("xfs_repair", "-n", Sandbox.IMAGE));
      default -> tool(image, null, List.of("e2fsck", "-f", "-n", Sandbox.IMAGE));
    }
  }

  /**
   * What blkid finds in an image (TYPE, UUID, ...; empty when it finds no filesystem), read with
   * the image bound read-only in the sandbox.
   */
  public Map<String, String> probe(Path image) {
    CommandRunner.Result r =
        sandbox.onImageReadOnly(
            image, List.of("blkid", "-p", "-o", "export", Sandbox.IMAGE), Duration.ofMinutes(1));
    Map<String, String> tags = new LinkedHashMap<>();
    if (r.exitCode() == 2) return tags; // nothing found
    if (!r.ok()) throw CommandRunner.failure(r);
    for (String line : r.stdout().split("\n")) {
      int eq = line.indexOf('=');
      if (eq > 0) tags.put(line.substring(0, eq), line.substring(eq + 1).strip());
    }
    return tags;
  }

  /** {@link #check}, with the image bound read-only: nothing the tool does can change it. */
  public void checkReadOnly(Path image, Filesystem fs) {
    List<String> cmd =
        switch (fs) {
          case none -> null;
          case xfs -> List.of("xfs_repair", "-n", "-f", Sandbox.IMAGE);
          default -> List.of("e2fsck", "-f", "-n", Sandbox.IMAGE);
        };
    if (cmd == null) return;
    CommandRunner.Result r = sandbox.onImageReadOnly(image, cmd, runner.defaultTimeout());
    if (!r.ok()) throw CommandRunner.failure(r);
  }

  /** The filesystem UUID as the guest's blkid sees it, or null for a raw image. */
  public String uuid(Path image, Filesystem fs) {
    if (fs == Filesystem.none) return null;
    CommandRunner.Result r =
        sandbox.onImage(
            image,
            null,
            List.of("blkid", "-p", "-o", "value", "-s", "UUID", Sandbox.IMAGE),
            Duration.ofMinutes(1));
    String v = r.stdout().strip();
    return r.ok() && !v.isEmpty() ? v : null;
  }

  /**
   * Gives a cloned filesystem its own UUID, so fstab's UUID= of the clone cannot mount the source.
   */
  public void setUuid(Path image, Filesystem fs, String uuid) {
    session.runEach(image, null, newUuidSteps(fs, uuid, true), longTimeout());
  }

  /**
   * The steps of {@link #setUuid}, to run in a sandbox run of their own or ahead of others.
   * ext2/3/4 that dom0's kernel mounts next ({@code beforeMount}): e2fsck -f -p, a whole check with
   * the safe fixes, as before every mount of a filesystem a guest wrote. Otherwise e2fsck -p, as a
   * boot runs it: a filesystem its superblock calls clean is left as it is (no pass over it), one a
   * guest left unclean is checked and fixed, a journal it left is replayed; tune2fs -U, which for a
   * filesystem with metadata checksums mounted since its last check wants a fresh e2fsck -f, is
   * given one only then; and the check that ends the build ({@link #checkSteps} with {@code
   * repair}) looks at every block of metadata before the image is published.
   */
  List<ToolSession.Step> newUuidSteps(Filesystem fs, String uuid, boolean beforeMount) {
    return switch (fs) {
      case none -> List.of();
      case xfs -> List.of(ToolSession.Step.required("xfs_admin", "-U", uuid, Sandbox.IMAGE));
      default ->
          List.of(
              new ToolSession.Step(
                  beforeMount
                      ? List.of("e2fsck", "-f", "-p", Sandbox.IMAGE)
                      : List.of("e2fsck", "-p", Sandbox.IMAGE),
                  1,
                  false),
              ToolSession.Step.required("tune2fs", "-U", uuid, Sandbox.IMAGE)
                  .recoveredBy(preenStep()));
    };
  }

  /** e2fsck -f -p: exit 0 or 1 (fixed) is fine. */
  private static ToolSession.Step preenStep() {
    return new ToolSession.Step(List.of("e2fsck", "-f", "-p", Sandbox.IMAGE), 1, false);
  }

  /** For the tools whose run can take a whole-filesystem pass: at least 30 minutes. */
  Duration longTimeout() {
    return Duration.ofMinutes(30).compareTo(runner.defaultTimeout()) > 0
        ? Duration.ofMinutes(30)
        : runner.defaultTimeout();
  }

  /**
   * e2fsck -f -p: safe automatic fixes only, and it records the check time resize2fs and tune2fs
   * ask for. Exit 0 or 1 (fixed) is fine; anything else means the filesystem needs a person.
   */
  public void preen(Path image) {
    preen(image, Duration.ofMinutes(30));
  }

  void preen(Path image, Duration timeout) {
    CommandRunner.Result r =
        sandbox.onImage(image, null, List.of("e2fsck", "-f", "-p", Sandbox.IMAGE), timeout);
    if (r.exitCode() > 1) throw CommandRunner.failure(r);
  }

  /** resize2fs to the file's size, with no timeout of its own (see Resizer). */
  CommandRunner.Result resize2fs(Path image, Duration timeout) {
    return sandbox.onImage(image, null, List.of("resize2fs", Sandbox.IMAGE), timeout);
  }

  /** The size an ext2/3/4 filesystem spans (block count × block size), from its superblock. */
  long ext2Bytes(Path image) {
    long blocks = -1;
    long size = -1;
    for (String line :
        tool(image, null, List.of("dumpe2fs", "-h", Sandbox.IMAGE)).stdout().split("\n")) {
      if (line.startsWith("Block count:")) blocks = Long.parseLong(line.substring(12).strip());
      if (line.startsWith("Block size:")) size = Long.parseLong(line.substring(11).strip());
    }
    return blocks * size;
  }

  /**
   * What a file's allocation was measured at: any write, truncate, fallocate or hole punch changes
   * one of these.
   */
  private record Measured(
      Object inode, long size, long mtimeNanos, long ctimeNanos, long atNanos, long allocated) {}

  /**
   * Allocation of files by path, so that every status poll and heartbeat does not start a stat
   * process per image (benchmark 3: 7 per disk). A value is reused only while the file's inode,
   * size, mtime and ctime are unchanged, and for at most {@link #REMEASURE_AFTER_NANOS}. A file
   * measured within one timestamp tick of its last change is measured again every time: a write
   * within that tick would leave mtime and ctime as they were ({@link #sameTick}).
   */
  private static final Map<Path, Measured> ALLOCATED = new ConcurrentHashMap<>();

  private static final long REMEASURE_AFTER_NANOS = TimeUnit.SECONDS.toNanos(30);

  /**
   * How long after a file's last change a measurement must begin to be reused: any later write then
   * stamps a later time. Filesystems with nanosecond timestamps (ext4 with 256-byte inodes, XFS,
   * btrfs) stamp the kernel's coarse clock, a tick of at most 10 ms behind the wall clock: 50 ms.
   * Where both times are whole seconds the filesystem may keep only seconds (ext3's 128-byte
   * inodes) or two (FAT): 2 s. A just-published image was measured again by every heartbeat and
   * status poll for its first two seconds: about three stat processes per clone of a fleet.
   */
  private static long sameTick(long mtimeNanos, long ctimeNanos) {
    long second = TimeUnit.SECONDS.toNanos(1);
    return mtimeNanos % second == 0 && ctimeNanos % second == 0
        ? TimeUnit.SECONDS.toNanos(2)
        : TimeUnit.MILLISECONDS.toNanos(50);
  }

  /** Bytes the file really occupies on disk (st_blocks × 512). */
  public long allocated(Path file) {
    Path key = file.toAbsolutePath().normalize();
    Map<String, Object> a;
    try {
      a =
          Files.readAttributes(
              key, "unix:ino,size,lastModifiedTime,ctime", LinkOption.NOFOLLOW_LINKS);
    } catch (IOException | UnsupportedOperationException e) {
      return stat(file);
    }
    long size = (Long) a.get("size");
    long mtime = nanos(a.get("lastModifiedTime"));
    long ctime = nanos(a.get("ctime"));
    long now = System.nanoTime();
    Measured m = ALLOCATED.get(key);
    if (m != null
        && m.inode().equals(a.get("ino"))
        && m.size() == size
        && m.mtimeNanos() == mtime
        && m.ctimeNanos() == ctime
        && now - m.atNanos() < REMEASURE_AFTER_NANOS) {
      return m.allocated();
    }
    long measuredFrom = System.currentTimeMillis() * 1_000_000L;
    long allocated = stat(file);
    if (measuredFrom - Math.max(mtime, ctime) < sameTick(mtime, ctime)) {
      ALLOCATED.remove(key);
      return allocated;
    }
    if (ALLOCATED.size() > 100_000) ALLOCATED.clear();
    ALLOCATED.put(key, new Measured(a.get("ino"), size, mtime, ctime, now, allocated));
    return allocated;
  }

  private long stat(Path file) {
    String out = runner.run("stat", "-c", "%b %B", file.toString()).stdout().strip();
    String[] f = out.split(" ");
    return Long.parseLong(f[0]) * Long.parseLong(f[1]);
  }

  private static long nanos(Object fileTime) {
    FileTime t = (FileTime) fileTime;
    Instant i = t.toInstant();
    return i.getEpochSecond() * 1_000_000_000L + i.getNano();
  }
}
