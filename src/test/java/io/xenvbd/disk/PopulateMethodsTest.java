package io.xenvbd.disk;

import static io.xenvbd.disk.DiskTestSupport.*;
import static org.assertj.core.api.Assertions.assertThat;

import io.xenvbd.api.Populate;
import io.xenvbd.api.Tailor;
import io.xenvbd.api.VirtualDiskSpec.Filesystem;
import io.xenvbd.testing.RequiresRoot;
import java.io.IOException;
import java.io.RandomAccessFile;
import java.nio.ByteBuffer;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.attribute.UserDefinedFileAttributeView;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.TreeMap;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * LoopMount (the recipe) and Offline (mke2fs -d) must give the same tree, with everything cp -ax
 * keeps.
 */
@RequiresRoot
class PopulateMethodsTest {
  @TempDir static Path tmp;
  static Path allowed;
  static Path archive;

  @BeforeAll
  static void makeSources() throws IOException {
    allowed = tmp.resolve("allowed");
    Path src = allowed.resolve("rootfs");
    Files.createDirectories(src.resolve("etc"));
    Files.createDirectories(src.resolve("bin"));
    Files.createDirectories(src.resolve("dev"));
    Files.createDirectories(src.resolve("data/empty"));
    Files.createDirectories(src.resolve("home/user"));
    Files.writeString(src.resolve("etc/issue"), "Debian GNU/Linux\n");
    Files.writeString(src.resolve("etc/shadow"), "root:*:19000:0:99999:7:::\n");
    RUN.run("chmod", "0640", src.resolve("etc/shadow").toString());
    RUN.run("chown", "0:42", src.resolve("etc/shadow").toString());
    Files.writeString(src.resolve("bin/tool"), "#!/bin/sh\necho tool\n");
    RUN.run("chmod", "4755", src.resolve("bin/tool").toString());
    Files.createLink(src.resolve("bin/tool-again"), src.resolve("bin/tool"));
    Files.createSymbolicLink(src.resolve("bin/relative"), Path.of("tool"));
    Files.createSymbolicLink(src.resolve("bin/absolute"), Path.of("/etc/issue"));
    RUN.run("mknod", "-m", "0666", src.resolve("dev/null").toString(), "c", "1", "3");
    RUN.run("mkfifo", "-m", "0600", src.resolve("dev/pipe").toString());
    Files.writeString(src.resolve("home/user/notes"), "mine\n");
    RUN.run("chown", "-R", "1000:1000", src.resolve("home/user").toString());
    RUN.run("chmod", "0700", src.resolve("home/user").toString());
    Path tagged = src.resolve("data/tagged");
    Files.writeString(tagged, "with an xattr\n");
    Files.getFileAttributeView(tagged, UserDefinedFileAttributeView.class)
        .write("user.origin", ByteBuffer.wrap("dom0".getBytes(StandardCharsets.UTF_8)));
    try (RandomAccessFile f = new RandomAccessFile(src.resolve("data/sparse").toFile(), "rw")) {
      f.setLength(32L << 20);
      f.seek(0);
      f.write("head".getBytes(StandardCharsets.UTF_8));
      f.seek(20L << 20);
      f.write("middle".getBytes(StandardCharsets.UTF_8));
    }
    Files.writeString(allowed.resolve("motd.single"), "a single file source\n");

    Path arch = tmp.resolve("archive-tree");
    Files.createDirectories(arch.resolve("opt/app"));
    Files.writeString(arch.resolve("opt/app/run"), "#!/bin/sh\n");
    RUN.run("chown", "4242:4343", arch.resolve("opt/app/run").toString());
    RUN.run("chmod", "0750", arch.resolve("opt/app/run").toString());
    Files.createSymbolicLink(arch.resolve("opt/current"), Path.of("app"));
    archive = allowed.resolve("app.tar.zst");
    RUN.run(
        "tar",
        "--zstd",
        "--numeric-owner",
        "--xattrs",
        "-cf",
        archive.toString(),
        "-C",
        arch.toString(),
        "opt");
  }

  @AfterAll
  static void nothingLeftAttached() {
    assertNothingAttachedUnder(tmp);
  }

  static Populate populate(Populate.Method method) {
    return new Populate(
        List.of(
            new Populate.HostPath(allowed.resolve("rootfs").toString(), "/"),
            new Populate.HostPath(
                allowed.resolve("motd.single").toString(), "/etc/motd.d/welcome")),
        new Populate.Archive(archive.toString(), null),
        null,
        List.of("/proc", "/sys", "/tmp"),
        method);
  }

  static Tailor tailor() {
    return new Tailor(
        "vm1",
        List.of(
            new Tailor.FstabEntry("self", "/", "ext4", "errors=remount-ro", 0, 1),
            new Tailor.FstabEntry("proc", "/proc", "proc", null, null, null)),
        List.of(
            new Tailor.File(
                "/etc/network/interfaces.d/eth0", "auto eth0\niface eth0 inet dhcp\n", "0600")));
  }

  ImageInfo build(Path root, String name, Filesystem fs, Populate.Method method) {
    return engine(root, allowed)
        .build(request(name, spec("128Mi", fs, populate(method), tailor())), ProgressListener.NONE);
  }

  @Test
  void offlineAndLoopMountGiveTheSameTreeWithEverythingKept() {
    Path root = tmp.resolve("images");
    ImageInfo offline = build(root, "offline", Filesystem.ext4, Populate.Method.Offline);
    ImageInfo mounted = build(root, "mounted", Filesystem.ext4, Populate.Method.LoopMount);
    assertThat(RUN.run("e2fsck", "-f", "-n", offline.path().toString()).exitCode()).isZero();
    assertThat(RUN.run("e2fsck", "-f", "-n", mounted.path().toString()).exitCode()).isZero();

    Map<String, String> a = readMounted(offline.path(), tmp, DiskTestSupport::describe);
    Map<String, String> b = readMounted(mounted.path(), tmp, DiskTestSupport::describe);
    // fstab names each image's own UUID, so its hash differs by design; its text is checked below.
    assertThat(withoutFstab(a)).isEqualTo(withoutFstab(b));

    assertThat(a.get("/bin/tool")).contains("mode=4755", "nlink=2");
    assertThat(a.get("/bin/tool-again")).contains("hardlink-of=/bin/tool");
    assertThat(a.get("/bin/relative")).isEqualTo("symlink uid=0 gid=0 mode=777 -> tool");
    assertThat(a.get("/bin/absolute")).endsWith("-> /etc/issue");
    assertThat(a.get("/dev/null")).startsWith("character-special-file").contains("mode=666");
    assertThat(a.get("/dev/pipe")).startsWith("fifo").contains("mode=600");
    assertThat(a.get("/etc/shadow")).contains("gid=42", "mode=640");
    assertThat(a.get("/home/user")).contains("uid=1000", "mode=700");
    assertThat(a.get("/data/tagged")).contains("user.origin=dom0");
    assertThat(a.get("/opt/app/run")).contains("uid=4242", "gid=4343", "mode=750");
    assertThat(a.get("/opt/current")).endsWith("-> app");
    assertThat(a).containsKeys("/proc", "/sys", "/tmp", "/etc/motd.d/welcome", "/data/empty");
    assertThat(a.get("/etc/network/interfaces.d/eth0")).contains("mode=600");
  }

  @Test
  void holesSurviveBothMethodsAndTailoredFilesNameTheImagesOwnUuid() {
    Path root = tmp.resolve("holes");
    for (Populate.Method m : List.of(Populate.Method.Offline, Populate.Method.LoopMount)) {
      ImageInfo info = build(root, "h-" + m.name().toLowerCase(), Filesystem.ext4, m);
      List<String> facts =
          readMounted(
              info.path(),
              tmp,
              mnt -> {
                List<String> f = new ArrayList<>();
                f.add(Long.toString(allocated(mnt.resolve("data/sparse"))));
                f.add(read(mnt.resolve("etc/fstab")));
                f.add(read(mnt.resolve("etc/hostname")));
                return f;
              });
      assertThat(Long.parseLong(facts.get(0)))
          .as(m + ": 32 MiB file with two short writes")
          .isLessThan(1L << 20);
      assertThat(facts.get(1))
          .contains(
              "UUID=" + info.filesystemUuid() + " / ext4 errors=remount-ro 0 1\n",
              "proc /proc proc defaults 0 0\n");
      assertThat(facts.get(2)).isEqualTo("vm1\n");
    }
  }

  @Test
  void xfsThroughALoopMountGetsTheSameTreeAsExt4() {
    Path root = tmp.resolve("xfs");
    ImageInfo ext4 = build(root, "e", Filesystem.ext4, Populate.Method.Auto);
    ImageInfo xfs =
        engine(root, allowed)
            .build(
                request(
                    "x", spec("320Mi", Filesystem.xfs, populate(Populate.Method.Auto), tailor())),
                ProgressListener.NONE);
    assertThat(RUN.run("xfs_repair", "-n", xfs.path().toString()).exitCode()).isZero();

    Map<String, String> a = readMounted(ext4.path(), tmp, DiskTestSupport::describe);
    Map<String, String> b = readMounted(xfs.path(), tmp, DiskTestSupport::describe);
    a.keySet().removeIf(k -> k.startsWith("/lost+found"));
    assertThat(withoutFstab(b)).isEqualTo(withoutFstab(a));
  }

  @Test
  void ext3ThroughALoopMountIsBuiltWithoutAJournalAndPublishedWithOne() {
    Path root = tmp.resolve("journal");
    for (Populate.Method m : List.of(Populate.Method.LoopMount, Populate.Method.Auto)) {
      String name = "j-" + m.name().toLowerCase(Locale.ROOT);
      List<String> stages = new ArrayList<>();
      ImageInfo info =
          engine(root, allowed)
              .build(
                  request(name, spec("128Mi", Filesystem.ext3, populate(m), tailor())),
                  (stage, done, total, percent) -> {
                    if (!stages.contains(stage)) stages.add(stage);
                  });
      String header = RUN.run("dumpe2fs", "-h", info.path().toString()).stdout();
      assertThat(header)
          .containsPattern("Filesystem features:.*has_journal")
          .containsPattern("(Total j|J)ournal size:");
      RUN.run("e2fsck", "-fn", info.path().toString());
      if (m == Populate.Method.Auto
          && Methods.spareLoops(new LoopDeviceTable().status())
              > EngineConfig.DEFAULT_LOOP_RESERVE) {
        // above the reserve Auto takes the loop-mount path: formats first, then populates
        assertThat(stages.indexOf("Format")).isLessThan(stages.indexOf("Populate"));
      }
    }
    nothingLeftAttached();
  }

  @Test
  void autoBuildsOfflineWhenTheReserveTakesEveryFreeLoopDevice() {
    Path root = tmp.resolve("reserve");
    DiskEngine engine =
        new DiskEngine(
            new EngineConfig(root, List.of(allowed), Duration.ofSeconds(2), Duration.ofMinutes(5))
                .withLoopReserve(1000));
    List<String> stages = new ArrayList<>();
    ImageInfo info =
        engine.build(
            request(
                "reserved",
                spec("128Mi", Filesystem.ext4, populate(Populate.Method.Auto), tailor())),
            (stage, done, total, percent) -> {
              if (!stages.contains(stage)) stages.add(stage);
            });
    assertThat(stages.indexOf("Populate"))
        .isLessThan(stages.indexOf("Format")); // Offline: staging tree, then mke2fs -d
    assertThat(RUN.run("dumpe2fs", "-h", info.path().toString()).stdout())
        .containsPattern("Filesystem features:.*has_journal");
  }

  static Map<String, String> withoutFstab(Map<String, String> tree) {
    Map<String, String> copy = new TreeMap<>(tree);
    assertThat(copy.remove("/etc/fstab")).startsWith("file uid=0 gid=0 mode=644");
    return copy;
  }

  static String read(Path p) {
    try {
      return Files.readString(p);
    } catch (IOException e) {
      throw new RuntimeException(e);
    }
  }
}
