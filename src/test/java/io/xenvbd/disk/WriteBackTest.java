package io.xenvbd.disk;

import static io.xenvbd.disk.DiskTestSupport.*;
import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.catchThrowableOfType;

import io.xenvbd.api.Populate;
import io.xenvbd.api.Tailor;
import io.xenvbd.api.VirtualDiskSpec.Filesystem;
import io.xenvbd.testing.RequiresRoot;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import java.util.Random;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.EnumSource;

/**
 * The write-out that runs while a loop-mounted image is populated ({@link WriteBack}): it never
 * outlives the build, a failure it sees fails the build, and it never hides the populate's own
 * error.
 */
@RequiresRoot
class WriteBackTest {
  @TempDir static Path tmp;

  @AfterAll
  static void nothingLeftAttached() {
    assertNothingAttachedUnder(tmp);
  }

  static List<Thread> writeBackThreads() {
    return Thread.getAllStackTraces().keySet().stream()
        .filter(t -> t.getName().equals("xenvbd-writeback") && t.isAlive())
        .toList();
  }

  /**
   * 60 MiB of data fits the 64 MiB disk's size (so it is not refused up front), not its filesystem:
   * cp fails mid-copy while the write-out runs.
   */
  @ParameterizedTest
  @EnumSource(
      value = Populate.Method.class,
      names = {"LoopMount", "Auto"})
  void aCopyThatFailsMidwayLeavesNoMountNoLoopDeviceNoTemporaryAndNoWriteOut(Populate.Method m)
      throws IOException {
    Path allowed = tmp.resolve("allowed-" + m);
    Path src = Files.createDirectories(allowed.resolve("data"));
    byte[] block = new byte[1 << 20];
    Random r = new Random(3);
    for (int i = 0; i < 60; i++) {
      r.nextBytes(block);
      Files.write(src.resolve("f" + i), block);
    }
    Path root = tmp.resolve("midway-" + m);
    DiskEngine engine = engine(root, allowed);
    Populate p =
        new Populate(List.of(new Populate.HostPath(src.toString(), "/data")), null, null, null, m);

    DiskException e =
        catchThrowableOfType(
            () ->
                engine.build(
                    request("vm", spec("64Mi", Filesystem.ext3, p, new Tailor("vm", null, null))),
                    ProgressListener.NONE),
            DiskException.class);

    assertThat(e.code()).as(e.getMessage()).isEqualTo(ErrorCode.NoSpace);
    assertThat(e.getMessage()).as("the copy's own error").startsWith("'cp ").contains("spec.size");
    assertThat(engine.inspect("default", "vm")).isEmpty();
    assertThat(nonImageEntries(root)).isEmpty();
    assertThat(engine.inventory().leftovers()).isEmpty();
    assertNothingAttachedUnder(root);
    assertThat(writeBackThreads()).isEmpty();
  }

  @Test
  void aBuildThatSucceedsLeavesNoWriteOutRunning() throws IOException {
    Path allowed = tmp.resolve("allowed-ok");
    Files.createDirectories(allowed.resolve("etc"));
    Files.writeString(allowed.resolve("etc/motd"), "hello\n");
    Path root = tmp.resolve("ok");
    Populate p =
        new Populate(
            List.of(new Populate.HostPath(allowed.toString(), "/")),
            null,
            null,
            null,
            Populate.Method.LoopMount);

    ImageInfo built =
        engine(root, allowed)
            .build(request("vm", spec("64Mi", Filesystem.ext4, p, null)), ProgressListener.NONE);

    assertThat(built.path()).exists();
    assertThat(writeBackThreads()).isEmpty();
    assertNothingAttachedUnder(root);
  }

  /** A sync that fails (here: nothing mounted there) fails the write-out, saying what it was. */
  @Test
  void aSyncThatFailsIsThrownWhenTheWriteOutStops() {
    Path gone = tmp.resolve("not-mounted-here");

    DiskException e =
        catchThrowableOfType(() -> WriteBack.start(RUN, gone).close(), DiskException.class);

    assertThat(e.code()).isEqualTo(ErrorCode.CommandFailed);
    assertThat(e.getMessage())
        .startsWith("writing the image out through its loop device while it was populated failed")
        .contains("sync -f " + gone)
        .contains("No such file or directory");
    assertThat(writeBackThreads()).isEmpty();
  }

  /** The populate's error is the build's; the write-out's failure only rides along with it. */
  @Test
  void thePopulatesOwnErrorStaysTheOneThrown() {
    DiskException copyFailed = new DiskException(ErrorCode.NoSpace, "'cp' ran out of space");

    DiskException e =
        catchThrowableOfType(
            () -> {
              try (WriteBack w = WriteBack.start(RUN, tmp.resolve("not-mounted-either"))) {
                throw copyFailed;
              }
            },
            DiskException.class);

    assertThat(e).isSameAs(copyFailed);
    assertThat(e.getSuppressed())
        .singleElement()
        .satisfies(s -> assertThat(s.getMessage()).startsWith("writing the image out"));
    assertThat(writeBackThreads()).isEmpty();
  }
}
