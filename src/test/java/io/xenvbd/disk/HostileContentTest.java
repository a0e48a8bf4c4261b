package io.xenvbd.disk;

import static io.xenvbd.disk.AttackRig.populate;
import static io.xenvbd.disk.DiskTestSupport.request;
import static io.xenvbd.disk.DiskTestSupport.spec;
import static io.xenvbd.disk.HostileInputs.hardlink;
import static io.xenvbd.disk.HostileInputs.mkfifo;
import static io.xenvbd.disk.HostileInputs.mknod;
import static io.xenvbd.disk.HostileInputs.symlink;
import static io.xenvbd.disk.HostileInputs.tar;
import static io.xenvbd.disk.HostileInputs.write;
import static org.assertj.core.api.Assertions.assertThat;

import io.xenvbd.api.Populate;
import io.xenvbd.api.Tailor;
import io.xenvbd.api.VirtualDiskSpec.Filesystem;
import io.xenvbd.disk.AttackRig.Mode;
import io.xenvbd.disk.AttackRig.Outcome;
import io.xenvbd.disk.HostileInputs.Entry;
import io.xenvbd.testing.RequiresRoot;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.LinkOption;
import java.nio.file.Path;
import java.nio.file.attribute.PosixFilePermissions;
import java.time.Duration;
import java.util.List;
import java.util.Map;
import java.util.function.Consumer;
import org.assertj.core.api.SoftAssertions;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.EnumSource;

/**
 * Promise 6, attacked: an archive's entries, a hostPaths source and whatever a guest wrote into a
 * cloned disk are hostile. Every input is made as an attacker makes it (mknod, mkfifo, ln, GNU tar,
 * debugfs -w on a published image), goes through the public engine API, and after every attack the
 * canaries on dom0 — a victim file, a victim directory, a canary block device — must be as they
 * were, with no loop device or mount left behind. A build may refuse an attack (then with a
 * DiskException and nothing published) or carry it into the image as the guest's content, never act
 * on it in dom0.
 */
@RequiresRoot
class HostileContentTest {
  @TempDir Path tmp;
  @TempDir Path victimHome;
  Path root;
  Path allowed;
  Path scratch;
  Canaries canaries;
  AttackRig rig;

  @BeforeEach
  void setUp() throws IOException {
    rig = AttackRig.open(tmp, victimHome);
    root = rig.root;
    allowed = rig.allowed;
    scratch = rig.scratch;
    canaries = rig.canaries;
  }

  @AfterEach
  void canariesIntactAndNothingLeftAttached() throws Throwable {
    rig.close();
  }

  // ---- 1. device node at a tailored path --------------------------------------------------------

  @ParameterizedTest
  @EnumSource(Mode.class)
  void deviceNodeAtATailoredPathIsReplacedNotWrittenThrough(Mode m) {
    Path tree = tmp.resolve("tree");
    mknod(tree.resolve("etc/hostname"), canaries.blockNode());
    Path archive = tar(tree, allowed.resolve("devnode.tar"), "etc");

    ImageInfo img =
        build(
                m,
                "devnode",
                populate(m, archive, List.of(), List.of()),
                new Tailor("vm1", null, null))
            .built();
    assertRegular(entry(img, m, "/etc/hostname"), "vm1\n");
  }

  // ---- 2. symbolic links out of the image under a hostPaths copy --------------------------------

  @ParameterizedTest
  @EnumSource(Mode.class)
  void anAbsoluteSymlinkToDom0UnderAHostPathsCopyIsNotFollowed(Mode m) {
    Path tree = tmp.resolve("tree");
    symlink(tree.resolve("etc/hostname"), canaries.victim.toString());
    copiedOverLink(m, tar(tree, allowed.resolve("abs-link.tar"), "etc"), "abslink");
  }

  @ParameterizedTest
  @EnumSource(Mode.class)
  void aRelativeSymlinkClimbingToDom0UnderAHostPathsCopyIsNotFollowed(Mode m) {
    Path tree = tmp.resolve("tree");
    symlink(
        tree.resolve("etc/hostname"), "../".repeat(12) + canaries.victim.toString().substring(1));
    copiedOverLink(m, tar(tree, allowed.resolve("rel-link.tar"), "etc"), "rellink");
  }

  /** hostPaths copies an etc with a hostname over the archive's etc/hostname link. */
  private void copiedOverLink(Mode m, Path archive, String name) {
    write(allowed.resolve("src/etc/hostname"), "from-source\n");
    Populate p =
        populate(
            m,
            archive,
            List.of(new Populate.HostPath(allowed.resolve("src/etc").toString(), "/etc")),
            List.of());
    build(m, name, p, null)
        .ifBuilt(img -> assertRegular(entry(img, m, "/etc/hostname"), "from-source\n"));
  }

  // ---- 3. a chain that only escapes when resolved physically ------------------------------------

  /**
   * {@code etc/x -> ../d/.../esc}, which the kernel resolves to the victim although every link
   * reads as inside.
   */
  private Path escapeChainArchive() throws IOException {
    Path tree = tmp.resolve("chain-tree");
    String end = HostileInputs.physicalEscape(tree, canaries.victim, 10);
    symlink(tree.resolve("etc/x"), "../" + end);
    assertThat(tree.resolve("etc/x").toRealPath())
        .as("the chain really reaches the victim on dom0")
        .isEqualTo(canaries.victim.toRealPath());
    return tar(tree, allowed.resolve("chain.tar"), "p", "d", "etc");
  }

  @ParameterizedTest
  @EnumSource(Mode.class)
  void aLinkChainEscapingOnlyWhenResolvedIsReplacedAtATailoredPath(Mode m) throws IOException {
    Path archive = escapeChainArchive();
    Tailor t = new Tailor(null, null, List.of(new Tailor.File("/etc/x", "tailored\n", "0644")));
    build(m, "chain-tailor", populate(m, archive, List.of(), List.of()), t)
        .ifBuilt(img -> assertRegular(entry(img, m, "/etc/x"), "tailored\n"));
  }

  @ParameterizedTest
  @EnumSource(Mode.class)
  void aLinkChainEscapingOnlyWhenResolvedIsNotFollowedByAHostPathsCopy(Mode m) throws IOException {
    Path archive = escapeChainArchive();
    write(allowed.resolve("src/etc/x"), "from-source\n");
    Populate p =
        populate(
            m,
            archive,
            List.of(new Populate.HostPath(allowed.resolve("src/etc").toString(), "/etc")),
            List.of());
    build(m, "chain-copy", p, null)
        .ifBuilt(img -> assertRegular(entry(img, m, "/etc/x"), "from-source\n"));
  }

  // ---- 4. a symlinked directory on the way to a tailored path
  // ------------------------------------

  @ParameterizedTest
  @EnumSource(Mode.class)
  void tailoringUnderASymlinkedEtcIsRefusedAndNothingIsPublished(Mode m) {
    Path abs = tmp.resolve("abs-tree");
    symlink(abs.resolve("etc"), canaries.victimDir.toString());
    Path rel = tmp.resolve("rel-tree");
    symlink(rel.resolve("etc"), "../".repeat(12) + canaries.victimDir.toString().substring(1));
    int i = 0;
    for (Path archive :
        List.of(
            tar(abs, allowed.resolve("etc-abs.tar"), "etc"),
            tar(rel, allowed.resolve("etc-rel.tar"), "etc"))) {
      DiskException e =
          build(
                  m,
                  "etc-link-" + i++,
                  populate(m, archive, List.of(), List.of("/etc/sub")),
                  new Tailor("vm1", null, null))
              .refused();
      assertThat(e.code()).as(e.getMessage()).isEqualTo(ErrorCode.InvalidRequest);
      assertThat(e.getMessage()).contains("symbolic link");
    }
  }

  // ---- 5. and 6. FIFOs and device nodes where something writes ----------------------------------

  @ParameterizedTest
  @EnumSource(Mode.class)
  void aFifoAtATailoredPathIsReplacedWithoutHangingTheBuild(Mode m) {
    Path tree = tmp.resolve("tree");
    mkfifo(tree.resolve("etc/hostname"));
    Path archive = tar(tree, allowed.resolve("fifo.tar"), "etc");
    build(
            m,
            "fifo-tailor",
            populate(m, archive, List.of(), List.of()),
            new Tailor("vm1", null, null))
        .ifBuilt(img -> assertRegular(entry(img, m, "/etc/hostname"), "vm1\n"));
  }

  @ParameterizedTest
  @EnumSource(Mode.class)
  void aFifoUnderAHostPathsCopyDoesNotHangTheBuild(Mode m) {
    Path tree = tmp.resolve("tree");
    mkfifo(tree.resolve("etc/hostname"));
    Path archive = tar(tree, allowed.resolve("fifo.tar"), "etc");
    write(allowed.resolve("src/etc/hostname"), "from-source\n");
    Populate p =
        populate(
            m,
            archive,
            List.of(new Populate.HostPath(allowed.resolve("src/etc").toString(), "/etc")),
            List.of());
    build(m, "fifo-copy", p, null)
        .ifBuilt(img -> assertRegular(entry(img, m, "/etc/hostname"), "from-source\n"));
  }

  @ParameterizedTest
  @EnumSource(Mode.class)
  void aDeviceNodeUnderAHostPathsCopyIsNotWrittenThrough(Mode m) {
    Path tree = tmp.resolve("tree");
    mknod(tree.resolve("etc/hostname"), canaries.blockNode());
    Path archive = tar(tree, allowed.resolve("devnode.tar"), "etc");
    write(allowed.resolve("src/etc/hostname"), "from-source\n");
    Populate p =
        populate(
            m,
            archive,
            List.of(new Populate.HostPath(allowed.resolve("src/etc").toString(), "/etc")),
            List.of());
    build(m, "dev-copy", p, null)
        .ifBuilt(img -> assertRegular(entry(img, m, "/etc/hostname"), "from-source\n"));
  }

  // ---- 7. hard links ----------------------------------------------------------------------------

  @ParameterizedTest
  @EnumSource(Mode.class)
  void tailoringAHardLinkedNameReplacesThatNameAndLeavesItsOtherNamesAlone(Mode m) {
    Path tree = tmp.resolve("tree");
    write(tree.resolve("etc/hostname"), "from-archive\n");
    hardlink(tree.resolve("etc/hostname.orig"), tree.resolve("etc/hostname"));
    symlink(tree.resolve("lnk"), canaries.victim.toString());
    hardlink(tree.resolve("etc/motd"), tree.resolve("lnk")); // a hard link to the symlink itself
    Path archive = tar(tree, allowed.resolve("hardlinks.tar"), "lnk", "etc");
    Tailor t = new Tailor("vm1", null, List.of(new Tailor.File("/etc/motd", "welcome\n", "0644")));

    ImageInfo img = build(m, "hardlinks", populate(m, archive, List.of(), List.of()), t).built();
    Map<String, Entry> e = entries(img, m, "/etc/hostname", "/etc/hostname.orig", "/etc/motd");
    assertRegular(e.get("/etc/hostname"), "vm1\n");
    assertRegular(e.get("/etc/hostname.orig"), "from-archive\n");
    assertRegular(e.get("/etc/motd"), "welcome\n");
  }

  @ParameterizedTest
  @EnumSource(Mode.class)
  void aHostPathsHardLinkToAFileOutsideTheSourceIsCopiedNeverLinked(Mode m) {
    hardlink(allowed.resolve("src/etc/link"), canaries.victim); // same filesystem: /tmp
    write(allowed.resolve("src/etc/issue"), "Debian\n");
    Populate p =
        populate(
            m,
            null,
            List.of(new Populate.HostPath(allowed.resolve("src/etc").toString(), "/etc")),
            List.of());
    Tailor t = new Tailor(null, null, List.of(new Tailor.File("/etc/link", "tailored\n", "0644")));

    ImageInfo img = build(m, "hostlink", p, t).built();
    assertRegular(entry(img, m, "/etc/link"), "tailored\n");
  }

  // ---- 8. createDirs through a symlink ----------------------------------------------------------

  @ParameterizedTest
  @EnumSource(Mode.class)
  void createDirsThroughASymlinkedDirectoryNeverCreateAnythingOnDom0(Mode m) {
    Path tree = tmp.resolve("tree");
    symlink(tree.resolve("home"), canaries.victimDir.toString());
    Path archive = tar(tree, allowed.resolve("home.tar"), "home");
    build(m, "home-link", populate(m, archive, List.of(), List.of("/home/x/y")), null);
  }

  @ParameterizedTest
  @EnumSource(Mode.class)
  void aHostPathsCopyNeverDescendsIntoASymlinkedDirectoryOfTheArchive(Mode m) {
    Path tree = tmp.resolve("tree");
    symlink(tree.resolve("etc/sub"), canaries.victimDir.toString());
    Path archive = tar(tree, allowed.resolve("sub.tar"), "etc");
    write(allowed.resolve("src/etc/sub/file"), "from-source\n");
    Populate p =
        populate(
            m,
            archive,
            List.of(new Populate.HostPath(allowed.resolve("src/etc").toString(), "/etc")),
            List.of());
    build(m, "sub-link", p, null)
        .ifBuilt(img -> assertRegular(entry(img, m, "/etc/sub/file"), "from-source\n"));
  }

  // ---- 9. clones of guest-written disks ---------------------------------------------------------

  /** A published disk with /etc/hostname, then whatever the guest planted into its image file. */
  private ImageInfo guestDisk(Mode m, String[] debugfs, Consumer<Path> mounted) {
    ImageInfo golden =
        rig.engine()
            .build(
                request("golden", spec(m.size, m.fs, null, new Tailor("golden", null, null))),
                ProgressListener.NONE);
    if (m.fs == Filesystem.xfs) HostileInputs.plantMounted(golden.path(), scratch, mounted);
    else HostileInputs.plantExt(golden.path(), scratch, debugfs);
    return golden;
  }

  private Populate cloneOf(Mode m, String name) {
    return new Populate(null, null, new Populate.CloneFrom(name), null, m.method);
  }

  @ParameterizedTest
  @EnumSource(Mode.class)
  void aCloneIsTailoredWithoutFollowingOrOpeningWhatTheGuestPlanted(Mode m) {
    String victim = canaries.victim.toString();
    ImageInfo golden =
        guestDisk(
            m,
            new String[] {
              "rm /etc/hostname",
              "cd /etc",
              "symlink hostname " + victim,
              "mknod fstab b " + canaries.major + " " + canaries.minor,
              "sif fstab mode 060644",
              "mknod motd p",
              "sif motd mode 010644"
            },
            mnt -> {
              try {
                Files.delete(mnt.resolve("etc/hostname"));
              } catch (IOException e) {
                throw new RuntimeException(e);
              }
              symlink(mnt.resolve("etc/hostname"), victim);
              mknod(mnt.resolve("etc/fstab"), canaries.blockNode());
              mkfifo(mnt.resolve("etc/motd"));
            });
    Map<String, Entry> planted = entries(golden, m, "/etc/hostname", "/etc/fstab", "/etc/motd");
    assertThat(planted.get("/etc/hostname").type()).as("planted").isEqualTo("symlink");
    assertThat(planted.get("/etc/fstab"))
        .as("planted")
        .extracting(Entry::type, Entry::device)
        .containsExactly("block", canaries.major + ":" + canaries.minor);
    assertThat(planted.get("/etc/motd").type()).as("planted").isEqualTo("fifo");

    Tailor t =
        new Tailor(
            "vm1",
            List.of(new Tailor.FstabEntry("self", "/", m.fs.name(), null, null, 1)),
            List.of(new Tailor.File("/etc/motd", "welcome\n", "0644")));
    ImageInfo img = build(m, "clone", cloneOf(m, "golden"), t).built();
    Map<String, Entry> e = entries(img, m, "/etc/hostname", "/etc/fstab", "/etc/motd");
    assertRegular(e.get("/etc/hostname"), "vm1\n");
    assertThat(e.get("/etc/fstab").type()).isEqualTo("regular");
    assertThat(e.get("/etc/fstab").content())
        .contains("UUID=" + img.filesystemUuid() + " / " + m.fs.name());
    assertRegular(e.get("/etc/motd"), "welcome\n");
  }

  @ParameterizedTest
  @EnumSource(Mode.class)
  void tailoringACloneWhoseEtcTheGuestMadeASymlinkIsRefused(Mode m) {
    String victimDir = canaries.victimDir.toString();
    ImageInfo golden =
        guestDisk(
            m,
            new String[] {"rm /etc/hostname", "rmdir /etc", "symlink /etc " + victimDir},
            mnt -> {
              DiskTestSupport.RUN.run(
                  "rm", "-rf", "--one-file-system", mnt.resolve("etc").toString());
              symlink(mnt.resolve("etc"), victimDir);
            });
    assertThat(entry(golden, m, "/etc").type()).as("planted").isEqualTo("symlink");

    DiskException e =
        build(m, "clone", cloneOf(m, "golden"), new Tailor("vm1", null, null)).refused();
    assertThat(e.code()).as(e.getMessage()).isEqualTo(ErrorCode.InvalidRequest);
    assertThat(e.getMessage()).contains("symbolic link");
  }

  @Test
  void anArchiveOnTopOfACloneNeverExtractsThroughTheGuestsSymlinkedEtc() {
    Mode m = Mode.EXT4_LOOPMOUNT;
    ImageInfo golden =
        guestDisk(
            m,
            new String[] {"rm /etc/hostname", "rmdir /etc", "symlink /etc " + canaries.victimDir},
            null);
    assertThat(entry(golden, m, "/etc").type()).as("planted").isEqualTo("symlink");
    Path tree = tmp.resolve("tree");
    write(tree.resolve("etc/x"), "from-archive\n");
    // Only the file, no entry for etc itself: GNU tar would replace a symlink by the directory of
    // such an entry.
    Path archive = tar(tree, allowed.resolve("on-clone.tar"), "etc/x");
    Populate p =
        new Populate(
            null,
            new Populate.Archive(archive.toString(), null),
            new Populate.CloneFrom("golden"),
            null,
            m.method);
    build(m, "clone", p, null);
  }

  @Test
  void aHostPathsCopyOnTopOfACloneNeverWritesThroughTheGuestsSymlink() {
    Mode m = Mode.EXT4_LOOPMOUNT;
    ImageInfo golden =
        guestDisk(
            m,
            new String[] {"rm /etc/hostname", "cd /etc", "symlink hostname " + canaries.victim},
            null);
    assertThat(entry(golden, m, "/etc/hostname").type()).as("planted").isEqualTo("symlink");
    write(allowed.resolve("src/etc/hostname"), "from-source\n");
    Populate p =
        new Populate(
            List.of(new Populate.HostPath(allowed.resolve("src/etc").toString(), "/etc")),
            null,
            new Populate.CloneFrom("golden"),
            null,
            m.method);
    build(m, "clone", p, null)
        .ifBuilt(img -> assertRegular(entry(img, m, "/etc/hostname"), "from-source\n"));
  }

  /**
   * The ext4 clone, tailored inside its image file (Offline: debugfs) or through a mount
   * (LoopMount), against what a guest planted with debugfs -w: /etc/hostname a block device node of
   * the canary loop device, /etc/fstab a FIFO, /etc/motd a hard link of /etc/issue, /etc/big a 1
   * TiB file, and, planted through a mount, /etc/hosts a link whose target carries newlines and
   * text shaped like debugfs's own output. Every tailored path is replaced by a regular file; the
   * other name of the hard link keeps its content; a path with a space and a quote is written where
   * it says.
   */
  @ParameterizedTest
  @EnumSource(
      value = Mode.class,
      names = {"EXT4_OFFLINE", "EXT4_LOOPMOUNT"})
  void anExt4CloneReplacesDeviceNodesFifosHardLinksHugeFilesAndTrickLinksWithoutOpeningThem(
      Mode m) {
    ImageInfo golden =
        guestDisk(
            m,
            new String[] {
              "rm /etc/hostname",
              "cd /etc",
              "mknod hostname b " + canaries.major + " " + canaries.minor,
              "sif hostname mode 060644",
              "mknod fstab p",
              "sif fstab mode 010644",
              "write /dev/null issue",
              "ln issue motd",
              "sif issue links_count 2",
              "write /dev/null big",
              "sif big size 0x10000000000"
            },
            null);
    HostileInputs.plantExt(golden.path(), scratch, "cd /etc", "mkdir sub");
    HostileInputs.plantMounted(
        golden.path(),
        scratch,
        mnt -> {
          try {
            Files.writeString(mnt.resolve("etc/issue"), "Debian\n");
            Files.createSymbolicLink(
                mnt.resolve("etc/hosts"),
                Path.of("x\ndebugfs: inode_dump \"/etc\"\n0000  ffa1 0000\n" + canaries.victim));
          } catch (IOException e) {
            throw new RuntimeException(e);
          }
        });
    Map<String, Entry> planted =
        entries(golden, m, "/etc/hostname", "/etc/fstab", "/etc/motd", "/etc/hosts");
    assertThat(planted.get("/etc/hostname"))
        .as("planted")
        .extracting(Entry::type, Entry::device)
        .containsExactly("block", canaries.major + ":" + canaries.minor);
    assertThat(planted.get("/etc/fstab").type()).as("planted").isEqualTo("fifo");
    assertThat(planted.get("/etc/motd"))
        .as("planted")
        .extracting(Entry::type, Entry::content)
        .containsExactly("regular", "Debian\n");
    assertThat(planted.get("/etc/hosts").type()).as("planted").isEqualTo("symlink");

    Tailor t =
        new Tailor(
            "vm1",
            List.of(new Tailor.FstabEntry("self", "/", m.fs.name(), null, null, 1)),
            List.of(
                new Tailor.File("/etc/motd", "welcome\n", "0644"),
                new Tailor.File("/etc/big", "small\n", "0600"),
                new Tailor.File("/etc/hosts", "127.0.0.1 localhost\n", "0644"),
                new Tailor.File("/etc/sub/a \"quoted\" name", "odd\n", "0644")));
    ImageInfo img = build(m, "clone", cloneOf(m, "golden"), t).built();
    Map<String, Entry> e =
        entries(
            img,
            m,
            "/etc/hostname",
            "/etc/fstab",
            "/etc/motd",
            "/etc/issue",
            "/etc/big",
            "/etc/hosts");
    assertRegular(e.get("/etc/hostname"), "vm1\n");
    assertThat(e.get("/etc/fstab").content()).contains("UUID=" + img.filesystemUuid() + " / ext4");
    assertRegular(e.get("/etc/motd"), "welcome\n");
    assertRegular(e.get("/etc/issue"), "Debian\n");
    assertRegular(e.get("/etc/big"), "small\n");
    assertRegular(e.get("/etc/hosts"), "127.0.0.1 localhost\n");
    assertThat(
            DiskTestSupport.RUN
                .run(
                    "debugfs",
                    "-R",
                    "cat \"/etc/sub/a \"\"quoted\"\" name\"",
                    img.path().toString())
                .stdout())
        .isEqualTo("odd\n");
    assertThat(
            DiskTestSupport.RUN
                .exec(
                    List.of("e2fsck", "-f", "-n", img.path().toString()),
                    Duration.ofMinutes(1),
                    null)
                .exitCode())
        .as("e2fsck -fn of the clone")
        .isZero();
  }

  // ---- 10. device nodes and FIFOs a source legitimately holds -----------------------------------

  @ParameterizedTest
  @EnumSource(Mode.class)
  void deviceNodesAndFifosOfAHostPathsSourceAreCarriedAsNodesAndNeverOpened(Mode m) {
    Path dev = allowed.resolve("rootfs/dev");
    mknod(dev.resolve("null"), List.of("c", "1", "3"));
    mknod(dev.resolve("canary"), canaries.blockNode());
    mkfifo(dev.resolve("initctl"));
    Populate p =
        populate(m, null, List.of(new Populate.HostPath(dev.toString(), "/dev")), List.of());

    ImageInfo img = build(m, "devcopy", p, null).built();
    Map<String, Entry> e = entries(img, m, "/dev/null", "/dev/canary", "/dev/initctl");
    assertThat(e.get("/dev/null"))
        .extracting(Entry::type, Entry::device)
        .containsExactly("char", "1:3");
    assertThat(e.get("/dev/canary"))
        .extracting(Entry::type, Entry::device)
        .containsExactly("block", canaries.major + ":" + canaries.minor);
    assertThat(e.get("/dev/initctl").type()).isEqualTo("fifo");
  }

  // ---- 11. setuid content is the guest's, never live on dom0 ------------------------------------

  @ParameterizedTest
  @EnumSource(Mode.class)
  void aSetuidExecutableStaysTheGuestsAndIsNeverReachableFromDom0WhileBuilding(Mode m)
      throws IOException {
    Path tree = tmp.resolve("tree");
    HostileInputs.mkdirs(tree.resolve("usr/bin"));
    Path suid = tree.resolve("usr/bin/suid-id");
    DiskTestSupport.RUN.run("cp", "/usr/bin/id", suid.toString());
    DiskTestSupport.RUN.run("chown", "0:0", suid.toString());
    DiskTestSupport.RUN.run("chmod", "4755", suid.toString());
    Path archive = tar(tree, allowed.resolve("suid.tar"), "usr");
    StagingObserver seen = new StagingObserver(root, "suid-id");
    // @TempDir is 0700, which would hide the images root from uid 65534 whatever the engine does;
    // an
    // admin's images root (/var/lib/xen/images) sits under world-traversable directories.
    Files.setPosixFilePermissions(tmp, PosixFilePermissions.fromString("rwxr-xr-x"));

    ImageInfo img =
        build(m, "suid", populate(m, archive, List.of(), List.of()), null, seen).built();
    Entry e = entry(img, m, "/usr/bin/suid-id");
    SoftAssertions soft = new SoftAssertions();
    soft.assertThat(e.type()).isEqualTo("regular");
    soft.assertThat(Integer.toOctalString(e.mode()))
        .as("the guest's setuid bit is kept")
        .isEqualTo("4755");
    soft.assertThat(
            PosixFilePermissions.toString(
                Files.getPosixFilePermissions(root, LinkOption.NOFOLLOW_LINKS)))
        .as("images root mode")
        .isEqualTo("rwx------");
    soft.assertThat(seen.tempDirs.size() + seen.mountOptions.size())
        .as("a staging directory or mount seen mid-build")
        .isPositive();
    seen.tempDirs
        .values()
        .forEach(
            d -> {
              soft.assertThat(d.uid()).as(d.path() + " owner").isZero();
              soft.assertThat(Integer.toOctalString(d.mode()))
                  .as(d.path() + " mode")
                  .isEqualTo("700");
            });
    seen.mountOptions.forEach(
        (mnt, opts) ->
            soft.assertThat(StagingObserver.missingOptions(opts, "nodev", "nosuid", "noexec"))
                .as("options missing on the build's mount " + mnt + " (" + opts + ")")
                .isEmpty());
    seen.reachableByNobody.forEach(
        (file, what) ->
            soft.assertThat(what)
                .as("uid 65534 reaching " + file + " mid-build")
                .isEqualTo("denied"));
    soft.assertAll();
  }

  // ---- helpers ----------------------------------------------------------------------------------

  Outcome build(Mode m, String name, Populate p, Tailor t) {
    return rig.build(m, name, p, t, ProgressListener.NONE);
  }

  Outcome build(Mode m, String name, Populate p, Tailor t, ProgressListener progress) {
    return rig.build(m, name, p, t, progress);
  }

  Entry entry(ImageInfo img, Mode m, String guestPath) {
    return HostileInputs.entry(img.path(), m.fs, scratch, guestPath);
  }

  Map<String, Entry> entries(ImageInfo img, Mode m, String... guestPaths) {
    return HostileInputs.entries(img.path(), m.fs, scratch, guestPaths);
  }

  static void assertRegular(Entry e, String content) {
    assertThat(e)
        .as("expected a regular file with " + content.strip())
        .extracting(Entry::type, Entry::content)
        .containsExactly("regular", content);
  }
}
