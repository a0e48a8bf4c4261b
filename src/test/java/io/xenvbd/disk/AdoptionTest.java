package io.xenvbd.disk;

import static io.xenvbd.disk.DiskTestSupport.*;
import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import io.xenvbd.api.Populate;
import io.xenvbd.api.Tailor;
import io.xenvbd.api.VirtualDiskSpec;
import io.xenvbd.api.VirtualDiskSpec.Filesystem;
import io.xenvbd.testing.RequiresRoot;
import java.io.IOException;
import java.nio.channels.FileChannel;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardOpenOption;
import java.nio.file.attribute.PosixFilePermissions;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.ExecutionException;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.Future;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * Released images and adoption with the real tools: a Retain disk's image released with its former
 * owner, adopted back without a byte of its data changing, and every refusal (another namespace, in
 * use, a second adopter, hostile import entries) leaving the image and any canary as they were.
 */
@RequiresRoot
class AdoptionTest {
  @TempDir static Path tmp;

  @AfterAll
  static void nothingLeftAttached() {
    assertNothingAttachedUnder(tmp);
  }

  private static DiskEngine engine(Path root, Path importDir) {
    return new DiskEngine(
        new EngineConfig(root, List.of(), Duration.ofSeconds(2), Duration.ofMinutes(5))
            .withImportDir(importDir));
  }

  static VirtualDiskSpec adopting(String size, Filesystem fs, Populate.Adopt adopt) {
    return spec(size, fs, new Populate(null, null, null, null, null, adopt), null);
  }

  static Populate.Adopt released(String name) {
    return new Populate.Adopt(name, null, null, null);
  }

  static Populate.Adopt imported(String file) {
    return new Populate.Adopt(null, null, null, file);
  }

  static DiskRequest in(String ns, String name, String uid, VirtualDiskSpec spec) {
    return DiskRequest.of(ns, name, uid, spec);
  }

  /** A Ready ext4 disk ns/name with /etc/hostname "web", released as a Retain disk's image is. */
  private static ImageInfo builtAndReleased(DiskEngine engine, String ns, String name) {
    ImageInfo built =
        engine.build(
            in(
                ns,
                name,
                "uid-" + name,
                spec("32Mi", Filesystem.ext4, null, new Tailor("web", null, null))),
            ProgressListener.NONE);
    engine.release(ns, name, "uid-" + name);
    return built;
  }

  private static String cat(Path image, String file) {
    return RUN.run("debugfs", "-R", "cat " + file, image.toString()).stdout();
  }

  @Test
  void aReleasedImageIsListedWithItsFormerOwnerAndOwnedByNobody() {
    DiskEngine engine = engine(tmp.resolve("listed"), null);
    ImageInfo built = builtAndReleased(engine, "team-a", "web");
    engine.release("team-a", "web", "uid-web"); // repeated: still fine

    Inventory inv = engine.inventory();
    assertThat(inv.images()).isEmpty();
    assertThat(inv.orphans()).isEmpty();
    assertThat(inv.released())
        .singleElement()
        .satisfies(
            r -> {
              assertThat(r.path()).isEqualTo(built.path());
              assertThat(r.capacityBytes()).isEqualTo(32L << 20);
              assertThat(r.filesystem()).isEqualTo("ext4");
              assertThat(r.filesystemUuid()).isEqualTo(built.filesystemUuid());
              assertThat(r.former().namespace()).isEqualTo("team-a");
              assertThat(r.former().name()).isEqualTo("web");
              assertThat(r.former().uid()).isEqualTo("uid-web");
              assertThat(r.former().at()).isNotNull();
            });
    assertThat(engine.inspect("team-a", "web")).isEmpty();
    // Neither the former owner nor a new VirtualDisk of the name builds over it or deletes it.
    assertThatThrownBy(
            () ->
                engine.build(
                    in("team-a", "web", "uid-new", spec("32Mi", Filesystem.ext4)),
                    ProgressListener.NONE))
        .isInstanceOfSatisfying(
            DiskException.class, e -> assertThat(e.code()).isEqualTo(ErrorCode.NotOwner))
        .hasMessageContaining("released by VirtualDisk team-a/web")
        .hasMessageContaining("spec.populate.adopt.name web");
    assertThatThrownBy(() -> engine.delete("team-a", "web", "uid-web"))
        .isInstanceOf(DiskException.class);
    assertThat(built.path()).exists();
  }

  @Test
  void aReleasedImageAdoptedInItsNamespaceIsReadyWithItsUuidAndDataAndNoByteRewritten() {
    DiskEngine engine = engine(tmp.resolve("same-ns"), null);
    ImageInfo built = builtAndReleased(engine, "team-a", "web");
    String before = sha256(built.path());

    ImageInfo adopted =
        engine.build(
            in("team-a", "web2", "uid-2", adopting("32Mi", Filesystem.ext4, released("web"))),
            ProgressListener.NONE);

    assertThat(adopted.path()).isEqualTo(built.path().resolveSibling("web2.img"));
    assertThat(adopted.ownerUid()).isEqualTo("uid-2");
    assertThat(adopted.filesystemUuid()).isEqualTo(built.filesystemUuid());
    assertThat(adopted.capacityBytes()).isEqualTo(32L << 20);
    assertThat(sha256(adopted.path())).as("the whole image, byte for byte").isEqualTo(before);
    assertThat(cat(adopted.path(), "/etc/hostname")).isEqualTo("web\n");
    assertThat(built.path()).doesNotExist();
    assertThat(built.path().resolveSibling("web.img.json")).doesNotExist();
    assertThat(engine.inventory().released()).isEmpty();
    assertThat(engine.inspect("team-a", "web2")).contains(adopted);
    // Repeated, as the operator repeats its PUT: the same image.
    assertThat(
            engine.build(
                in("team-a", "web2", "uid-2", adopting("32Mi", Filesystem.ext4, released("web"))),
                ProgressListener.NONE))
        .isEqualTo(adopted);
  }

  @Test
  void aReleasedImageAdoptedUnderItsOwnNameByUuidAndLargerIsGrownAsAGrowIs() {
    DiskEngine engine = engine(tmp.resolve("own-name"), null);
    ImageInfo built = builtAndReleased(engine, "team-a", "db");
    ImageInfo adopted =
        engine.build(
            in(
                "team-a",
                "db",
                "uid-back",
                adopting(
                    "64Mi",
                    Filesystem.ext4,
                    new Populate.Adopt(null, null, built.filesystemUuid(), null))),
            ProgressListener.NONE);

    assertThat(adopted.path()).isEqualTo(built.path());
    assertThat(adopted.capacityBytes()).isEqualTo(64L << 20);
    assertThat(LifecycleTest.ext4Bytes(adopted.path())).isEqualTo(64L << 20);
    assertThat(RUN.run("e2fsck", "-f", "-n", adopted.path().toString()).exitCode()).isZero();
    assertThat(adopted.filesystemUuid()).isEqualTo(built.filesystemUuid());
    assertThat(cat(adopted.path(), "/etc/hostname")).isEqualTo("web\n");
  }

  @Test
  void adoptionFromAnotherNamespaceIsRefusedAndTheImageStaysReleased() {
    DiskEngine engine = engine(tmp.resolve("other-ns"), null);
    ImageInfo built = builtAndReleased(engine, "team-a", "web");
    String before = sha256(built.path());

    assertThatThrownBy(
            () ->
                engine.build(
                    in(
                        "team-b",
                        "web",
                        "uid-b",
                        adopting(
                            "32Mi",
                            Filesystem.ext4,
                            new Populate.Adopt("web", "team-a", null, null))),
                    ProgressListener.NONE))
        .isInstanceOfSatisfying(
            DiskException.class, e -> assertThat(e.code()).isEqualTo(ErrorCode.NotOwner))
        .hasMessageContaining("released from namespace team-a")
        .hasMessageContaining("create this VirtualDisk in namespace team-a");
    // By UUID, another namespace's images are not looked at: the answer names neither it nor them.
    assertThatThrownBy(
            () ->
                engine.build(
                    in(
                        "team-b",
                        "x",
                        "uid-b",
                        adopting(
                            "32Mi",
                            Filesystem.ext4,
                            new Populate.Adopt(null, null, built.filesystemUuid(), null))),
                    ProgressListener.NONE))
        .isInstanceOfSatisfying(
            DiskException.class, e -> assertThat(e.code()).isEqualTo(ErrorCode.NotFound))
        .hasMessageContaining("no image released from namespace team-b")
        .hasMessageNotContaining("team-a")
        .hasMessageNotContaining("web");
    assertThat(sha256(built.path())).isEqualTo(before);
    assertThat(engine.inventory().released()).hasSize(1);
    assertThat(tmp.resolve("other-ns/team-b"))
        .satisfiesAnyOf(p -> assertThat(p).doesNotExist(), p -> assertThat(p).isEmptyDirectory());
  }

  @Test
  void anImageHeldByALoopDeviceIsNotAdopted() {
    DiskEngine engine = engine(tmp.resolve("held"), null);
    ImageInfo built = builtAndReleased(engine, "team-a", "web");
    String loop =
        RUN.run("losetup", "-f", "--show", "-r", built.path().toString()).stdout().strip();
    try {
      assertThatThrownBy(
              () ->
                  engine.build(
                      in(
                          "team-a",
                          "web2",
                          "uid-2",
                          adopting("32Mi", Filesystem.ext4, released("web"))),
                      ProgressListener.NONE))
          .isInstanceOfSatisfying(
              DiskException.class, e -> assertThat(e.code()).isEqualTo(ErrorCode.ImageInUse))
          .hasMessageContaining(loop);
    } finally {
      RUN.run("losetup", "-d", loop);
    }
    assertThat(engine.inventory().released()).hasSize(1);
    assertThat(engine.inspect("team-a", "web2")).isEmpty();
  }

  @Test
  void twoAdoptionsOfOneImageAtOnceGiveItToExactlyOne() throws Exception {
    DiskEngine engine = engine(tmp.resolve("race"), null);
    ImageInfo built = builtAndReleased(engine, "team-a", "web");
    CountDownLatch go = new CountDownLatch(1);
    ExecutorService pool = Executors.newFixedThreadPool(2);
    try {
      List<Future<ImageInfo>> tries = new ArrayList<>();
      for (String name : List.of("left", "right")) {
        tries.add(
            pool.submit(
                () -> {
                  go.await();
                  return engine.build(
                      in(
                          "team-a",
                          name,
                          "uid-" + name,
                          adopting("32Mi", Filesystem.ext4, released("web"))),
                      ProgressListener.NONE);
                }));
      }
      go.countDown();
      List<ImageInfo> won = new ArrayList<>();
      List<String> lost = new ArrayList<>();
      for (Future<ImageInfo> f : tries) {
        try {
          won.add(f.get());
        } catch (ExecutionException e) {
          lost.add(e.getCause().getMessage());
        }
      }
      assertThat(won).hasSize(1);
      assertThat(lost)
          .singleElement()
          .asString()
          .containsAnyOf(
              "is adopting", "no released image", "is not released", "has no released image");
      assertThat(won.get(0).filesystemUuid()).isEqualTo(built.filesystemUuid());
      assertThat(engine.inventory().images()).hasSize(1);
      assertThat(engine.inventory().released()).isEmpty();
    } finally {
      pool.shutdownNow();
    }
  }

  @Test
  void anImageMadeByTheRecipesOwnCommandsIsAdoptedFromTheImportDirectoryAsItIs()
      throws IOException {
    Path root = tmp.resolve("recipe/images");
    Path imports = Files.createDirectories(tmp.resolve("recipe/import"));
    Path tree = Files.createDirectories(tmp.resolve("recipe/tree/etc"));
    Files.writeString(tree.resolve("hostname"), "vm1\n");
    Files.writeString(tree.resolve("motd"), "made by hand\n");
    Path img = imports.resolve("vm1disk");
    RecipeImages.make(img, tree.getParent());
    String uuid =
        RUN.run("blkid", "-p", "-o", "value", "-s", "UUID", img.toString()).stdout().strip();
    String before = sha256(img);
    long bytes = Files.size(img);
    assertThat(bytes)
        .isEqualTo(
            (16L << 20) + 1024); // dd bs=1k seek=16k count=1: one KiB past 16 MiB, as the recipe's

    DiskEngine engine = engine(root, imports);
    assertThatThrownBy(
            () ->
                engine.build(
                    in(
                        "team-a",
                        "vm1",
                        "uid-vm1",
                        adopting("16Mi", Filesystem.ext3, imported("vm1disk"))),
                    ProgressListener.NONE))
        .isInstanceOfSatisfying(
            DiskException.class, e -> assertThat(e.code()).isEqualTo(ErrorCode.ShrinkRefused))
        .hasMessageContaining("set spec.size to at least 16385Ki");
    assertThatThrownBy(
            () ->
                engine.build(
                    in(
                        "team-a",
                        "vm1",
                        "uid-vm1",
                        adopting("16385Ki", Filesystem.ext4, imported("vm1disk"))),
                    ProgressListener.NONE))
        .hasMessageContaining(
            "holds an ext3 filesystem but spec.filesystem is ext4: set spec.filesystem to ext3");
    assertThat(img).as("each refusal put the file back").exists();
    assertThat(sha256(img)).isEqualTo(before);

    ImageInfo adopted =
        engine.build(
            in(
                "team-a",
                "vm1",
                "uid-vm1",
                adopting("16385Ki", Filesystem.ext3, imported("vm1disk"))),
            ProgressListener.NONE);

    assertThat(img).doesNotExist();
    assertThat(adopted.path()).isEqualTo(root.resolve("team-a/vm1.img"));
    assertThat(adopted.filesystemUuid()).isEqualTo(uuid);
    assertThat(adopted.capacityBytes()).isEqualTo(bytes);
    assertThat(sha256(adopted.path())).as("not a byte rewritten").isEqualTo(before);
    assertThat(cat(adopted.path(), "/etc/motd")).isEqualTo("made by hand\n");
    assertThat(PosixFilePermissions.toString(Files.getPosixFilePermissions(adopted.path())))
        .isEqualTo("rw-------");
    assertThat(engine.inspect("team-a", "vm1")).contains(adopted);
  }

  @Test
  void linksFifosAndDeviceNodesPlantedInTheImportDirectoryAreRefusedAndNothingIsTouched()
      throws IOException {
    Path base = Files.createDirectories(tmp.resolve("hostile"));
    Path root = base.resolve("images");
    Path imports = Files.createDirectories(base.resolve("import"));
    // victims: valid ext4 images outside the images root, that a followed link would hand to a
    // guest
    DiskEngine maker = DiskTestSupport.engine(base.resolve("victims"));
    Path victim =
        maker.build(request("victim", spec("16Mi", Filesystem.ext4)), ProgressListener.NONE).path();
    Path canary =
        maker.build(request("canary", spec("16Mi", Filesystem.ext4)), ProgressListener.NONE).path();
    String victimSum = sha256(victim);
    String canarySum = sha256(canary);
    String loop = RUN.run("losetup", "-f", "--show", "-r", canary.toString()).stdout().strip();
    try {
      String[] majorMinor = RUN.run("stat", "-c", "%t %T", loop).stdout().strip().split(" ");
      Files.createSymbolicLink(imports.resolve("symlink"), victim);
      Files.createLink(imports.resolve("hardlink"), victim);
      RUN.run("mkfifo", imports.resolve("fifo").toString());
      RUN.run(
          "mknod",
          imports.resolve("device").toString(),
          "b",
          Integer.toString(Integer.parseInt(majorMinor[0], 16)),
          Integer.toString(Integer.parseInt(majorMinor[1], 16)));
      DiskEngine engine = engine(root, imports);

      for (String[] c :
          new String[][] {
            {"symlink", "a symbolic link"},
            {"hardlink", "2 hard links"},
            {"fifo", "a FIFO"},
            {"device", "a block device"},
            {"missing", "has no file missing"}
          }) {
        assertThatThrownBy(
                () ->
                    engine.build(
                        in(
                            "team-a",
                            "d-" + c[0],
                            "uid-" + c[0],
                            adopting("16Mi", Filesystem.ext4, imported(c[0]))),
                        ProgressListener.NONE))
            .as(c[0])
            .isInstanceOf(DiskException.class)
            .hasMessageContaining(c[1]);
      }
      assertThat(Files.readSymbolicLink(imports.resolve("symlink"))).isEqualTo(victim);
      assertThat(imports.resolve("hardlink")).exists();
      assertThat(imports.resolve("fifo")).exists();
      assertThat(imports.resolve("device")).exists();
      assertThat(sha256(victim)).isEqualTo(victimSum);
      assertThat(sha256(canary)).isEqualTo(canarySum);
      assertThat(RUN.run("losetup", "-n", "-O", "BACK-FILE", loop).stdout().strip())
          .isEqualTo(canary.toString());
      assertThat(engine.inventory().images()).isEmpty();
      assertThat(nonImageEntries(root)).isEmpty();
    } finally {
      RUN.run("losetup", "-d", loop);
    }
  }

  @Test
  void anImportFileAProcessHoldsOpenIsRefusedAndStaysWhereItWas() throws IOException {
    Path root = tmp.resolve("open/images");
    Path imports = Files.createDirectories(tmp.resolve("open/import"));
    Path file = imports.resolve("busy");
    RUN.run("truncate", "-s", "16M", file.toString());
    DiskEngine engine = engine(root, imports);
    try (var held = FileChannel.open(file, StandardOpenOption.READ)) {
      assertThatThrownBy(
              () ->
                  engine.build(
                      in(
                          "team-a",
                          "b",
                          "uid-b",
                          adopting("16Mi", Filesystem.none, imported("busy"))),
                      ProgressListener.NONE))
          .isInstanceOfSatisfying(
              DiskException.class, e -> assertThat(e.code()).isEqualTo(ErrorCode.ImageInUse))
          .hasMessageContaining(ProcessHandle.current().pid() + " (");
    }
    assertThat(file).exists();
    // Once nobody holds it, a raw file is adopted as a raw disk.
    ImageInfo raw =
        engine.build(
            in("team-a", "b", "uid-b", adopting("16Mi", Filesystem.none, imported("busy"))),
            ProgressListener.NONE);
    assertThat(raw.filesystemUuid()).isNull();
    assertThat(raw.capacityBytes()).isEqualTo(16L << 20);
    assertThat(file).doesNotExist();
  }

  @Test
  void anXfsImageIsIdentifiedAndCheckedReadOnlyAndAdopted() throws IOException {
    Path root = tmp.resolve("xfs/images");
    Path imports = Files.createDirectories(tmp.resolve("xfs/import"));
    Path file = imports.resolve("data.xfs");
    RUN.run("truncate", "-s", "300M", file.toString());
    RUN.run("mkfs.xfs", "-q", file.toString());
    String uuid =
        RUN.run("blkid", "-p", "-o", "value", "-s", "UUID", file.toString()).stdout().strip();
    String before = sha256(file);
    ImageInfo adopted =
        engine(root, imports)
            .build(
                in(
                    "team-a",
                    "data",
                    "uid-data",
                    adopting("300Mi", Filesystem.xfs, imported("data.xfs"))),
                ProgressListener.NONE);
    assertThat(adopted.filesystemUuid()).isEqualTo(uuid);
    assertThat(sha256(adopted.path())).isEqualTo(before);
  }

  @Test
  void anImportFileOnAnotherFilesystemIsRefusedNotCopied() throws IOException {
    Path shm = Path.of("/dev/shm");
    org.junit.jupiter.api.Assumptions.assumeTrue(Files.isDirectory(shm));
    Object tmpDev = Files.getAttribute(tmp, "unix:dev");
    org.junit.jupiter.api.Assumptions.assumeFalse(
        tmpDev.equals(Files.getAttribute(shm, "unix:dev")));
    Path imports = Files.createTempDirectory(shm, "xenvbd-import-");
    try {
      Path file = imports.resolve("elsewhere");
      RUN.run("truncate", "-s", "16M", file.toString());
      DiskEngine engine = engine(tmp.resolve("elsewhere"), imports);
      assertThatThrownBy(
              () ->
                  engine.build(
                      in(
                          "team-a",
                          "e",
                          "uid-e",
                          adopting("16Mi", Filesystem.none, imported("elsewhere"))),
                      ProgressListener.NONE))
          .isInstanceOfSatisfying(
              DiskException.class, e -> assertThat(e.code()).isEqualTo(ErrorCode.SourceNotAllowed))
          .hasMessageContaining("another filesystem")
          .hasMessageContaining("never copies");
      assertThat(file).exists();
    } finally {
      RUN.run("rm", "-rf", imports.toString());
    }
  }

  @Test
  void anImportFileAnInterruptedAdoptionTookGoesBackAtRecovery() throws IOException {
    Path root = Files.createDirectories(tmp.resolve("parked/images"));
    Path imports = Files.createDirectories(tmp.resolve("parked/import"));
    Path parked = root.resolve(ImagePaths.PARKED_PREFIX + "disk.tmp-1");
    Files.writeString(parked, "the admin's image");
    DiskEngine engine = engine(root, imports);
    engine.recover();
    engine.close();
    assertThat(parked).doesNotExist();
    assertThat(imports.resolve("disk.tmp-1")).hasContent("the admin's image");
  }

  @Test
  void anImportDirectoryInsideTheImagesRootIsRefusedAtStart() {
    Path root = tmp.resolve("inside");
    assertThatThrownBy(() -> engine(root, root.resolve("import")))
        .isInstanceOf(IllegalArgumentException.class)
        .hasMessageContaining("lies in the images root");
  }

  @Test
  void withoutAnImportDirectoryNoFileCanBeAdopted() {
    DiskEngine engine = engine(tmp.resolve("none"), null);
    assertThatThrownBy(
            () ->
                engine.build(
                    in(
                        "team-a",
                        "x",
                        "uid-x",
                        adopting("16Mi", Filesystem.ext4, imported("vm1disk"))),
                    ProgressListener.NONE))
        .isInstanceOfSatisfying(
            DiskException.class, e -> assertThat(e.code()).isEqualTo(ErrorCode.SourceNotAllowed))
        .hasMessageContaining("--import-dir");
  }
}
