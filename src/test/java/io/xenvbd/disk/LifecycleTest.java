package io.xenvbd.disk;

import static io.xenvbd.disk.DiskTestSupport.*;
import static org.assertj.core.api.Assertions.assertThat;

import com.sun.net.httpserver.HttpServer;
import io.xenvbd.api.Populate;
import io.xenvbd.api.Tailor;
import io.xenvbd.api.VirtualDiskSpec.Filesystem;
import io.xenvbd.testing.RequiresRoot;
import java.io.IOException;
import java.net.InetSocketAddress;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** Grow, clone, idempotent build, archives over HTTP, inventory and storage figures. */
@RequiresRoot
class LifecycleTest {
  @TempDir static Path tmp;

  @AfterAll
  static void nothingLeftAttached() {
    assertNothingAttachedUnder(tmp);
  }

  static long ext4Bytes(Path image) {
    long blocks = 0;
    long size = 0;
    for (String line : RUN.run("dumpe2fs", "-h", image.toString()).stdout().split("\n")) {
      if (line.startsWith("Block count:")) blocks = Long.parseLong(line.split(":")[1].trim());
      if (line.startsWith("Block size:")) size = Long.parseLong(line.split(":")[1].trim());
    }
    return blocks * size;
  }

  @Test
  void growEnlargesFileAndExt4FilesystemKeepingContentAndSparseness() {
    DiskEngine engine = engine(tmp.resolve("grow"));
    ImageInfo small =
        engine.build(
            request("g", spec("64Mi", Filesystem.ext4, null, new Tailor("keep", null, null))),
            ProgressListener.NONE);
    List<String> stages = new ArrayList<>();
    ImageInfo big =
        engine.grow(
            request("g", spec("1Gi", Filesystem.ext4)), (s, d, t, p) -> stages.add(s + ":" + p));

    assertThat(big.capacityBytes()).isEqualTo(1L << 30);
    assertThat(ext4Bytes(big.path())).isEqualTo(1L << 30);
    assertThat(RUN.run("e2fsck", "-f", "-n", big.path().toString()).exitCode()).isZero();
    assertThat(big.allocatedBytes()).isLessThan(8L << 20);
    assertThat(big.filesystemUuid()).isEqualTo(small.filesystemUuid());
    assertThat(stages).contains("Resize:0").last().isEqualTo("Publish:100");
    String hostname =
        readMounted(big.path(), tmp, m -> PopulateMethodsTest.read(m.resolve("etc/hostname")));
    assertThat(hostname).isEqualTo("keep\n");
    // Same size again: nothing to do.
    assertThat(
            engine
                .grow(request("g", spec("1Gi", Filesystem.ext4)), ProgressListener.NONE)
                .capacityBytes())
        .isEqualTo(1L << 30);
  }

  @Test
  void growEnlargesAnXfsFilesystemThroughALoopMount() {
    DiskEngine engine = engine(tmp.resolve("grow-xfs"));
    engine.build(request("x", spec("320Mi", Filesystem.xfs)), ProgressListener.NONE);
    ImageInfo big = engine.grow(request("x", spec("640Mi", Filesystem.xfs)), ProgressListener.NONE);

    assertThat(RUN.run("xfs_repair", "-n", big.path().toString()).exitCode()).isZero();
    long total =
        readMounted(
            big.path(),
            tmp,
            m -> {
              try {
                return Files.getFileStore(m).getTotalSpace();
              } catch (IOException e) {
                throw new RuntimeException(e);
              }
            });
    assertThat(total).isGreaterThan(500L << 20);
  }

  @Test
  void aCloneIsASparseCopyWithItsOwnUuidAndTailoring() {
    DiskEngine engine = engine(tmp.resolve("clone"));
    Tailor base =
        new Tailor(
            "base", List.of(new Tailor.FstabEntry("self", "/", "ext4", null, null, 1)), null);
    ImageInfo src =
        engine.build(
            request("golden", spec("64Mi", Filesystem.ext4, null, base)), ProgressListener.NONE);
    Populate clone =
        new Populate(null, null, new Populate.CloneFrom("golden"), List.of("/srv"), null);
    Tailor mine =
        new Tailor(
            "copy", List.of(new Tailor.FstabEntry("self", "/", "ext4", null, null, 1)), null);
    ImageInfo copy =
        engine.build(
            request("copy", spec("128Mi", Filesystem.ext4, clone, mine)), ProgressListener.NONE);

    assertThat(copy.filesystemUuid()).isNotEqualTo(src.filesystemUuid());
    assertThat(copy.capacityBytes()).isEqualTo(128L << 20);
    assertThat(ext4Bytes(copy.path())).isEqualTo(128L << 20);
    assertThat(copy.allocatedBytes()).isLessThan(16L << 20);
    List<String> facts =
        readMounted(
            copy.path(),
            tmp,
            m ->
                List.of(
                    PopulateMethodsTest.read(m.resolve("etc/hostname")),
                    PopulateMethodsTest.read(m.resolve("etc/fstab")),
                    Boolean.toString(Files.isDirectory(m.resolve("srv")))));
    assertThat(facts.get(0)).isEqualTo("copy\n");
    assertThat(facts.get(1)).contains("UUID=" + copy.filesystemUuid() + " / ext4");
    assertThat(facts.get(2)).isEqualTo("true");
  }

  @Test
  void buildingAgainReturnsTheSameImageWithoutRebuilding() throws IOException {
    DiskEngine engine = engine(tmp.resolve("idem"));
    ImageInfo first =
        engine.build(request("same", spec("32Mi", Filesystem.ext4)), ProgressListener.NONE);
    var mtime = Files.getLastModifiedTime(first.path());
    ImageInfo again =
        engine.build(request("same", spec("32Mi", Filesystem.ext4)), ProgressListener.NONE);
    assertThat(again.filesystemUuid()).isEqualTo(first.filesystemUuid());
    assertThat(Files.getLastModifiedTime(again.path())).isEqualTo(mtime);
    // the same absolute path: the xl lines (the operator's, api.XenEntries) are built on it
    assertThat(again.path()).isEqualTo(first.path()).isAbsolute();
  }

  @Test
  void anArchiveFromAnHttpUrlIsDownloadedCheckedAndUnpacked() throws IOException {
    Path tree = Files.createDirectories(tmp.resolve("http-tree/etc"));
    Files.writeString(tree.resolve("os-release"), "ID=debian\n");
    Path tgz = tmp.resolve("rootfs.tar.gz");
    RUN.run("tar", "-czf", tgz.toString(), "-C", tree.getParent().toString(), "etc");
    HttpServer server = HttpServer.create(new InetSocketAddress("127.0.0.1", 0), 0);
    server.createContext(
        "/rootfs.tar.gz",
        ex -> {
          byte[] body = Files.readAllBytes(tgz);
          ex.sendResponseHeaders(200, body.length);
          ex.getResponseBody().write(body);
          ex.close();
        });
    server.start();
    try {
      String url = "http://127.0.0.1:" + server.getAddress().getPort() + "/rootfs.tar.gz";
      Path root = tmp.resolve("http");
      Populate p = new Populate(null, new Populate.Archive(url, sha256(tgz)), null, null, null);
      UrlPolicy loopbackServer = new UrlPolicy(List.of(url), List.of("127.0.0.1"));
      ImageInfo info =
          engine(root, loopbackServer)
              .build(request("web", spec("32Mi", Filesystem.ext4, p, null)), ProgressListener.NONE);
      String osRelease =
          readMounted(info.path(), tmp, m -> PopulateMethodsTest.read(m.resolve("etc/os-release")));
      assertThat(osRelease).isEqualTo("ID=debian\n");
      assertThat(nonImageEntries(root)).isEmpty(); // the download is gone
    } finally {
      server.stop(0);
    }
  }

  @Test
  void inventoryAndStorageReportImagesOrphansAndSizes() throws IOException {
    Path root = tmp.resolve("inv");
    DiskEngine engine = engine(root);
    engine.build(request("a", spec("64Mi", Filesystem.ext4)), ProgressListener.NONE);
    engine.build(request("b", spec("32Mi", Filesystem.none)), ProgressListener.NONE);
    Path orphan = root.resolve("default/stray.img");
    RUN.run("truncate", "-s", "16M", orphan.toString());

    Inventory inv = engine.inventory();
    assertThat(inv.images()).extracting(ImageInfo::name).containsExactlyInAnyOrder("a", "b");
    assertThat(inv.orphans()).containsExactly(orphan);
    assertThat(inv.leftovers()).isEmpty();

    StorageInfo s = engine.storage();
    assertThat(s.promisedBytes()).isEqualTo((64L + 32 + 16) << 20);
    assertThat(s.allocatedBytes()).isPositive().isLessThan(8L << 20);
    assertThat(s.capacityBytes()).isGreaterThan(s.availableBytes()).isPositive();
    assertThat(engine.loopStatus().max())
        .isEqualTo(
            Integer.parseInt(
                Files.readString(Path.of("/sys/module/loop/parameters/max_loop")).trim()));
  }
}
