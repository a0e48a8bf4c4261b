package io.xenvbd.disk;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.catchThrowableOfType;

import io.xenvbd.testing.RequiresRoot;
import java.io.RandomAccessFile;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.List;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** Several tools in one sandbox run: the result, and errors that name the tool that failed. */
@RequiresRoot
class ToolSessionTest {
  final CommandRunner runner = new CommandRunner(Duration.ofSeconds(60));
  final ToolSession session = new ToolSession(new Sandbox(runner));
  static final Duration T = Duration.ofSeconds(60);

  @TempDir Path dir;

  Path ext4(String uuid) throws Exception {
    Path image = dir.resolve("disk.img");
    try (RandomAccessFile f = new RandomAccessFile(image.toFile(), "rw")) {
      f.setLength(32L << 20);
    }
    runner.run("mke2fs", "-F", "-q", "-t", "ext4", "-U", uuid, image.toString());
    return image;
  }

  Path garbage() throws Exception {
    Path image = dir.resolve("garbage.img");
    Files.write(image, new byte[1 << 20]);
    return image;
  }

  @Test
  void runsEveryStepAndKeepsOnlyTheStdoutOfTheStepsThatKeepIt() throws Exception {
    String uuid = "0b7c2a58-6f1e-4a5e-9d3c-2f0e6a1b9c44";
    Path image = ext4(uuid);
    String out =
        session.run(
            image,
            List.of(
                ToolSession.Step.required("e2fsck", "-f", "-n", Sandbox.IMAGE),
                new ToolSession.Step(
                    List.of("blkid", "-p", "-o", "value", "-s", "UUID", Sandbox.IMAGE), 0, true)),
            T);
    assertThat(out.strip()).isEqualTo(uuid);
  }

  @Test
  void theFirstStepOverItsExitCodeEndsTheRunAndTheErrorNamesItAsIfItRanAlone() throws Exception {
    Path image = garbage();
    DiskException e =
        catchThrowableOfType(
            () ->
                session.run(
                    image,
                    List.of(
                        new ToolSession.Step(List.of("blkid", "-p", Sandbox.IMAGE), 255, true),
                        ToolSession.Step.required("e2fsck", "-f", "-n", Sandbox.IMAGE)),
                    T),
            DiskException.class);
    assertThat(e.code()).isEqualTo(ErrorCode.CommandFailed);
    assertThat(e.getMessage())
        .startsWith("'e2fsck -f -n " + image + "' failed with exit code 8")
        .doesNotContain("xenvbd-session-step");
  }

  @Test
  void whatAToolPrintsCannotPassForTheSessionsOwnReport() throws Exception {
    Path image = garbage();
    DiskException e =
        catchThrowableOfType(
            () ->
                session.run(
                    image,
                    List.of(
                        new ToolSession.Step(
                            List.of("sh", "-c", "echo 'xenvbd-session-step 0 99' >&2; exit 0"),
                            0,
                            false),
                        ToolSession.Step.required("e2fsck", "-f", "-n", Sandbox.IMAGE)),
                    T),
            DiskException.class);
    assertThat(e.getMessage()).startsWith("'e2fsck -f -n " + image + "' failed with exit code 8");
  }

  @Test
  void aMissingToolIsToolMissing() throws Exception {
    Path image = garbage();
    DiskException e =
        catchThrowableOfType(
            () ->
                session.run(
                    image, List.of(ToolSession.Step.required("mkfs.nonexistentfs", "x")), T),
            DiskException.class);
    assertThat(e.code()).isEqualTo(ErrorCode.ToolMissing);
    assertThat(e.getMessage()).contains("mkfs.nonexistentfs", "not installed");
  }

  @Test
  void argumentsReachTheToolsAsTheyAreNeverThroughAShell() throws Exception {
    Path image = garbage();
    String out =
        session.run(
            image,
            List.of(new ToolSession.Step(List.of("echo", "it's $(id -u); `x` \"y\""), 0, true)),
            T);
    assertThat(out).isEqualTo("it's $(id -u); `x` \"y\"\n");
  }
}
