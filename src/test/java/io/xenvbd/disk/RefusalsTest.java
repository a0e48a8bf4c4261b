package io.xenvbd.disk;

import static io.xenvbd.disk.DiskTestSupport.*;
import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.catchThrowableOfType;

import io.xenvbd.api.Populate;
import io.xenvbd.api.Tailor;
import io.xenvbd.api.VirtualDiskSpec.Filesystem;
import io.xenvbd.testing.RequiresRoot;
import java.io.IOException;
import java.io.OutputStream;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.List;
import org.apache.commons.compress.archivers.tar.TarArchiveEntry;
import org.apache.commons.compress.archivers.tar.TarArchiveOutputStream;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.ValueSource;

/** What the engine refuses, with the right code, before it writes anything. */
@RequiresRoot
class RefusalsTest {
  @TempDir static Path tmp;
  static Path allowed;
  static Path root;

  @BeforeAll
  static void setUp() throws IOException {
    allowed = Files.createDirectories(tmp.resolve("allowed"));
    Files.createDirectories(allowed.resolve("ok"));
    Files.writeString(allowed.resolve("ok/file"), "fine\n");
    Path outside = Files.createDirectories(tmp.resolve("secret"));
    Files.writeString(outside.resolve("key"), "dom0 secret\n");
    Files.createSymbolicLink(allowed.resolve("sneaky"), outside);
    root = tmp.resolve("images");
  }

  @AfterAll
  static void nothingLeftAttached() {
    assertNothingAttachedUnder(tmp);
  }

  DiskException refused(Runnable r) {
    DiskException e = catchThrowableOfType(r::run, DiskException.class);
    assertThat(e).as("expected a DiskException").isNotNull();
    assertThat(nonImageEntries(root)).as("nothing left after: " + e.getMessage()).isEmpty();
    return e;
  }

  static Populate hostPath(String path) {
    return new Populate(List.of(new Populate.HostPath(path, "/data")), null, null, null, null);
  }

  @ParameterizedTest
  @ValueSource(strings = {"../escape", "a/b", "..", "UPPER", "with space"})
  void namesThatCouldEscapeTheRootAreInvalid(String name) {
    DiskException e =
        refused(() -> DiskRequest.of("default", name, "u1", spec("8Mi", Filesystem.none)));
    assertThat(e.code()).isEqualTo(ErrorCode.InvalidRequest);
    DiskException ns = refused(() -> engine(root).delete("../..", name, "u1"));
    assertThat(ns.code()).isEqualTo(ErrorCode.InvalidRequest);
  }

  @Test
  void aPathOutsideTheRootIsRefusedByImagePaths() {
    ImagePaths paths = new ImagePaths(root, List.of());
    assertThat(refused(() -> paths.under(root.resolve("../elsewhere"))).code())
        .isEqualTo(ErrorCode.InvalidRequest);
    assertThat(refused(() -> paths.under(root)).code()).isEqualTo(ErrorCode.InvalidRequest);
  }

  @Test
  void aSourceOutsideTheAllowlistIsRefused() {
    DiskException e =
        refused(
            () ->
                engine(root, allowed)
                    .build(
                        request(
                            "a",
                            spec(
                                "16Mi",
                                Filesystem.ext4,
                                hostPath(tmp.resolve("secret").toString()),
                                null)),
                        ProgressListener.NONE));
    assertThat(e.code()).isEqualTo(ErrorCode.SourceNotAllowed);
    assertThat(e.getMessage()).contains("--allow-source");
  }

  @Test
  void aMissingSourceSaysWhatToSetInsideTheAllowlistAndNothingOfDom0OutsideIt() {
    ImagePaths paths = new ImagePaths(root, List.of(allowed));
    // Under the allowlist (with Helm, where only allowed directories are mounted into the agent,
    // also a file that is on the node but elsewhere): say what to set, not just "missing".
    DiskException inside =
        refused(() -> paths.allowedArchive(allowed.resolve("missing.tar").toString()));
    assertThat(inside.code()).isEqualTo(ErrorCode.SourceNotAllowed);
    assertThat(inside.getMessage())
        .contains("does not exist under the sources")
        .contains("--allow-source")
        .contains("agent.allowSources");
    // Outside it, a missing file and an existing one read the same: no probing of dom0's files.
    DiskException missing =
        refused(() -> paths.allowedArchive(tmp.resolve("secret/missing.tar").toString()));
    DiskException present =
        refused(() -> paths.allowedArchive(tmp.resolve("secret/key").toString()));
    assertThat(missing.getMessage())
        .isEqualTo(present.getMessage().replace("key", "missing.tar"))
        .contains("is not under a source")
        .contains("agent.allowSources");
  }

  @Test
  void aSourceThatHoldsOrLiesInTheImagesRootIsRefused() throws IOException {
    Path parent = tmp.resolve("parent");
    Path images = Files.createDirectories(parent.resolve("images"));
    Files.createDirectories(images.resolve("default"));
    DiskEngine e = engine(images, parent);
    DiskException holds =
        refused(
            () ->
                e.build(
                    request("h", spec("16Mi", Filesystem.ext4, hostPath(parent.toString()), null)),
                    ProgressListener.NONE));
    assertThat(holds.code()).isEqualTo(ErrorCode.SourceNotAllowed);
    assertThat(holds.getMessage()).contains("contains what the agent keeps to itself");
    DiskException inside =
        refused(
            () ->
                e.build(
                    request(
                        "i",
                        spec(
                            "16Mi",
                            Filesystem.ext4,
                            hostPath(images.resolve("default").toString()),
                            null)),
                    ProgressListener.NONE));
    assertThat(inside.getMessage()).contains("lies inside what the agent keeps to itself");
    assertThat(images.resolve("default").toFile().list()).isEmpty();
  }

  @Test
  void aSourceEscapingTheAllowlistThroughASymlinkIsRefused() {
    DiskException e =
        refused(
            () ->
                engine(root, allowed)
                    .build(
                        request(
                            "b",
                            spec(
                                "16Mi",
                                Filesystem.ext4,
                                hostPath(allowed.resolve("sneaky").toString()),
                                null)),
                        ProgressListener.NONE));
    assertThat(e.code()).isEqualTo(ErrorCode.SourceNotAllowed);
    // Where the link leads is dom0's business: the message names what the tenant wrote, not the
    // real path.
    assertThat(e.getMessage())
        .contains("'" + allowed.resolve("sneaky") + "' is not under a source")
        .doesNotContain(tmp.resolve("secret").toString());
    DiskException dotdot =
        refused(
            () ->
                engine(root, allowed)
                    .build(
                        request(
                            "c",
                            spec(
                                "16Mi",
                                Filesystem.ext4,
                                hostPath(allowed + "/ok/../../secret"),
                                null)),
                        ProgressListener.NONE));
    assertThat(dotdot.code()).isEqualTo(ErrorCode.SourceNotAllowed);
  }

  @Test
  void anAllowedSourceIsCopied() {
    ImageInfo info =
        engine(root, allowed)
            .build(
                request(
                    "ok",
                    spec(
                        "16Mi", Filesystem.ext4, hostPath(allowed.resolve("ok").toString()), null)),
                ProgressListener.NONE);
    String copied =
        readMounted(info.path(), tmp, mnt -> PopulateMethodsTest.read(mnt.resolve("data/file")));
    assertThat(copied).isEqualTo("fine\n");
    engine(root).delete("default", "ok", "uid-ok");
  }

  @Test
  void anArchiveUrlIsNeverFetchedUnlessTheAdminAllowedIt() throws IOException {
    try (Canary canary = Canary.silent()) {
      Populate p =
          new Populate(
              null, new Populate.Archive(canary.url("/rootfs.tar"), null), null, null, null);
      DiskException e =
          refused(
              () ->
                  engine(root)
                      .build(
                          request("url", spec("16Mi", Filesystem.ext4, p, null)),
                          ProgressListener.NONE));
      assertThat(e.code()).isEqualTo(ErrorCode.SourceNotAllowed);
      assertThat(e.getMessage()).contains("--allow-url");
      DiskException loopback =
          refused(
              () ->
                  engine(root, new UrlPolicy(List.of(canary.url("/")), List.of()))
                      .build(
                          request("url", spec("16Mi", Filesystem.ext4, p, null)),
                          ProgressListener.NONE));
      assertThat(loopback.code()).isEqualTo(ErrorCode.SourceNotAllowed);
      assertThat(loopback.getMessage()).contains("--allow-private-host");
      assertThat(canary.connections).hasValue(0);
    }
  }

  static Path tar(String name, TarArchiveEntry... entries) throws IOException {
    Path file = tmp.resolve(name + ".tar");
    try (TarArchiveOutputStream out = new TarArchiveOutputStream(Files.newOutputStream(file))) {
      out.setLongFileMode(TarArchiveOutputStream.LONGFILE_POSIX);
      for (TarArchiveEntry e : entries) {
        byte[] data = e.isFile() ? "payload\n".getBytes(StandardCharsets.UTF_8) : new byte[0];
        if (e.isFile()) e.setSize(data.length);
        out.putArchiveEntry(e);
        out.write(data);
        out.closeArchiveEntry();
      }
    }
    return file;
  }

  static TarArchiveEntry file(String name) {
    return new TarArchiveEntry(name, true);
  }

  static TarArchiveEntry link(String name, String target, byte type) {
    TarArchiveEntry e = new TarArchiveEntry(name, type, true);
    e.setLinkName(target);
    return e;
  }

  DiskException buildArchive(Path archive, String sha256) {
    Populate p =
        new Populate(null, new Populate.Archive(archive.toString(), sha256), null, null, null);
    return refused(
        () ->
            engine(root, archive.getParent())
                .build(
                    request(
                        "t" + Math.abs(archive.hashCode() % 1000),
                        spec("16Mi", Filesystem.ext4, p, null)),
                    ProgressListener.NONE));
  }

  @Test
  void tarSlipArchivesAreRefusedBeforeAnythingIsExtracted() throws IOException {
    Path victim = tmp.resolve("victim");
    Files.createDirectories(victim);
    Path[] slips = {
      tar("absolute", file("ok"), file(victim.resolve("abs").toString())),
      tar("dotdot", file("ok"), file("etc/../../../victim/dotdot")),
      tar("symlink-out", link("etc/evil", "../../victim", TarArchiveEntry.LF_SYMLINK)),
      tar("through-symlink", link("esc", "sub", TarArchiveEntry.LF_SYMLINK), file("esc/x")),
      tar("hardlink-out", link("h", "../victim/abs", TarArchiveEntry.LF_LINK)),
    };
    for (Path slip : slips) {
      DiskException e = buildArchive(slip, null);
      assertThat(e.code()).as(slip.toString()).isEqualTo(ErrorCode.InvalidRequest);
      assertThat(e.getMessage()).contains("archive entry");
    }
    try (var s = Files.list(victim)) {
      assertThat(s).isEmpty();
    }
  }

  @Test
  void aDamagedCompressedArchiveIsRefusedInOneSentenceOfWhatToChange() throws IOException {
    Path good = tar("damaged", file("etc/motd"));
    Path gz = tmp.resolve("damaged.tar.gz");
    RUN.run("sh", "-c", "gzip -c < \"$0\" > \"$1\"", good.toString(), gz.toString());
    byte[] b = Files.readAllBytes(gz);
    b[2] = 9; // a compression method gzip does not know
    Files.write(gz, b);
    DiskException e = buildArchive(gz, null);
    assertThat(e.code()).isEqualTo(ErrorCode.InvalidRequest);
    assertThat(e.getMessage())
        .isEqualTo(
            "archive is not a valid gzip stream (gzip: stdin: unknown method 9 -- not supported):"
                + " give a tar archive, plain or compressed with gzip, xz, zstd or bzip2");
  }

  @Test
  void anArchiveCompressedWithAToolXenvbdDoesNotRunIsRefusedAsSuch() throws IOException {
    Path good = tar("lzma", file("etc/motd"));
    Path lzma = tmp.resolve("old.tar.lzma");
    RUN.run("sh", "-c", "xz --format=lzma -c < \"$0\" > \"$1\"", good.toString(), lzma.toString());
    DiskException e = buildArchive(lzma, null);
    assertThat(e.code()).isEqualTo(ErrorCode.InvalidRequest);
    assertThat(e.getMessage())
        .isEqualTo(
            "archive is compressed with lzma, which xenvbd does not unpack: give a tar archive,"
                + " plain or compressed with gzip, xz, zstd or bzip2");
  }

  @Test
  void aChecksumMismatchIsRefused() throws IOException {
    Path good = tar("good", file("etc/motd"));
    DiskException e = buildArchive(good, "0".repeat(64));
    assertThat(e.code()).isEqualTo(ErrorCode.InvalidRequest);
    assertThat(e.getMessage()).contains("sha256", sha256(good));
  }

  @Test
  void deletingAnImageAttachedToALoopDeviceIsRefused() {
    DiskEngine engine = engine(root);
    ImageInfo info =
        engine.build(request("busy", spec("16Mi", Filesystem.ext4)), ProgressListener.NONE);
    String dev = RUN.run("losetup", "--find", "--show", info.path().toString()).stdout().strip();
    try {
      DiskException e =
          catchThrowableOfType(
              () -> engine.delete("default", "busy", "uid-busy"), DiskException.class);
      assertThat(e.code()).isEqualTo(ErrorCode.ImageInUse);
      assertThat(e.getMessage()).contains(dev);
      DiskException grow =
          catchThrowableOfType(
              () ->
                  engine.grow(
                      request("busy", spec("32Mi", Filesystem.ext4)), ProgressListener.NONE),
              DiskException.class);
      assertThat(grow.code()).isEqualTo(ErrorCode.ImageInUse);
      assertThat(info.path()).exists();
    } finally {
      RUN.exec(List.of("losetup", "-d", dev), Duration.ofMinutes(1), null);
    }
    engine.delete("default", "busy", "uid-busy");
    assertThat(info.path()).doesNotExist();
    engine.delete("default", "busy", "uid-busy"); // already gone: success
  }

  @Test
  void shrinkingIsRefusedAndAnotherOwnersImageIsNeverTouched() {
    DiskEngine engine = engine(root);
    ImageInfo info =
        engine.build(request("mine", spec("32Mi", Filesystem.ext4)), ProgressListener.NONE);
    DiskException shrink =
        catchThrowableOfType(
            () ->
                engine.grow(request("mine", spec("16Mi", Filesystem.ext4)), ProgressListener.NONE),
            DiskException.class);
    assertThat(shrink.code()).isEqualTo(ErrorCode.ShrinkRefused);
    assertThat(shrink.getMessage()).contains("32Mi");

    DiskRequest thief =
        DiskRequest.of("default", "mine", "someone-else", spec("32Mi", Filesystem.ext4));
    assertThat(
            catchThrowableOfType(
                    () -> engine.build(thief, ProgressListener.NONE), DiskException.class)
                .code())
        .isEqualTo(ErrorCode.NotOwner);
    assertThat(
            catchThrowableOfType(
                    () -> engine.delete("default", "mine", "someone-else"), DiskException.class)
                .code())
        .isEqualTo(ErrorCode.NotOwner);
    assertThat(engine.inspect("default", "mine"))
        .hasValueSatisfying(i -> assertThat(i.ownerUid()).isEqualTo("uid-mine"));
    assertThat(info.path()).exists();
  }

  @Test
  void anArchiveOnTheNodeOutsideTheAllowedSourcesIsRefusedLikeAHostPath() throws IOException {
    // Without this, populate.archive could read any file on dom0 that hostPaths may not.
    Path tar = tmp.resolve("outside.tar");
    RUN.run("tar", "-cf", tar.toString(), "-C", allowed.toString(), "ok");
    Populate p = new Populate(null, new Populate.Archive(tar.toString(), null), null, null, null);
    DiskException e =
        refused(
            () ->
                engine(root, allowed)
                    .build(
                        request("arch-out", spec("16Mi", Filesystem.ext4, p, null)),
                        ProgressListener.NONE));
    assertThat(e.code()).as(e.getMessage()).isEqualTo(ErrorCode.SourceNotAllowed);
    assertThat(e.getMessage()).contains("archive").contains("--allow-source");
    Files.createSymbolicLink(allowed.resolve("shadow.tar"), Path.of("/etc/shadow"));
    Populate viaLink =
        new Populate(
            null,
            new Populate.Archive(allowed.resolve("shadow.tar").toString(), null),
            null,
            null,
            null);
    assertThat(
            refused(
                    () ->
                        engine(root, allowed)
                            .build(
                                request("arch-link", spec("16Mi", Filesystem.ext4, viaLink, null)),
                                ProgressListener.NONE))
                .code())
        .isEqualTo(ErrorCode.SourceNotAllowed);
    assertThat(root.resolve("default/arch-out.img")).doesNotExist();
    assertThat(root.resolve("default/arch-link.img")).doesNotExist();
  }

  @Test
  void offlineXfsAndTailoringThroughASymlinkOutOfTheImageAreRefused() throws IOException {
    Populate offlineXfs = new Populate(null, null, null, null, Populate.Method.Offline);
    assertThat(
            refused(
                    () ->
                        engine(root)
                            .build(
                                request("x", spec("320Mi", Filesystem.xfs, offlineXfs, null)),
                                ProgressListener.NONE))
                .code())
        .isEqualTo(ErrorCode.InvalidRequest);

    // An archive may hold an absolute symlink (/etc -> /etc is fine for the guest), but tailoring
    // must never follow it into dom0.
    Path linkTree = Files.createDirectories(tmp.resolve("link-tree"));
    Files.createSymbolicLink(linkTree.resolve("etc"), Path.of("/etc"));
    Path etcLink = tmp.resolve("etc-link.tar");
    RUN.run("tar", "-cf", etcLink.toString(), "-C", linkTree.toString(), "etc");
    String before = Files.readString(Path.of("/etc/hostname"));
    Populate p =
        new Populate(null, new Populate.Archive(etcLink.toString(), null), null, null, null);
    DiskException e =
        refused(
            () ->
                engine(root, tmp)
                    .build(
                        request(
                            "evil",
                            spec("16Mi", Filesystem.ext4, p, new Tailor("pwned", null, null))),
                        ProgressListener.NONE));
    assertThat(e.code()).as(e.getMessage()).isEqualTo(ErrorCode.InvalidRequest);
    assertThat(e.getMessage()).contains("symbolic link");
    assertThat(Files.readString(Path.of("/etc/hostname"))).isEqualTo(before);
  }

  @Test
  void aTailoredFileReplacesASymlinkInsteadOfWritingThroughIt() throws IOException {
    Path tree = Files.createDirectories(tmp.resolve("resolv-tree/etc"));
    Files.createSymbolicLink(tree.resolve("resolv.conf"), Path.of("/etc/resolv.conf"));
    Path archive = tmp.resolve("resolv.tar");
    RUN.run("tar", "-cf", archive.toString(), "-C", tree.getParent().toString(), "etc");
    String before = Files.readString(Path.of("/etc/resolv.conf"));
    Populate p =
        new Populate(null, new Populate.Archive(archive.toString(), null), null, null, null);
    Tailor t =
        new Tailor(
            null,
            null,
            List.of(new Tailor.File("/etc/resolv.conf", "nameserver 10.0.0.1\n", "0644")));
    ImageInfo info =
        engine(root, tmp)
            .build(request("resolv", spec("16Mi", Filesystem.ext4, p, t)), ProgressListener.NONE);

    assertThat(Files.readString(Path.of("/etc/resolv.conf"))).isEqualTo(before);
    String inImage =
        readMounted(
            info.path(),
            tmp,
            m ->
                Files.isSymbolicLink(m.resolve("etc/resolv.conf"))
                    ? "still a symlink"
                    : PopulateMethodsTest.read(m.resolve("etc/resolv.conf")));
    assertThat(inImage).isEqualTo("nameserver 10.0.0.1\n");
    engine(root).delete("default", "resolv", "uid-resolv");
  }

  static void write(OutputStream out, String s) throws IOException {
    out.write(s.getBytes(StandardCharsets.UTF_8));
  }
}
