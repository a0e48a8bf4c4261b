package io.xenvbd.disk;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.catchThrowableOfType;

import java.io.RandomAccessFile;
import java.nio.file.Path;
import java.time.Duration;
import java.util.List;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicReference;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

class CommandRunnerTest {
  final CommandRunner runner = new CommandRunner(Duration.ofSeconds(20));

  @Test
  void keepsOutputAndFailsWithTheCommandAndItsStderr() {
    assertThat(runner.run("printf", "a b").stdout()).isEqualTo("a b");
    DiskException e =
        catchThrowableOfType(() -> runner.run("ls", "/definitely/not/here"), DiskException.class);
    assertThat(e.code()).isEqualTo(ErrorCode.CommandFailed);
    assertThat(e.getMessage())
        .contains("ls /definitely/not/here", "exit code 2", "No such file or directory");
  }

  @Test
  void aCommandPastItsLimitIsStoppedAndTheMessageOffersNoSettingThatDoesNotExist() {
    DiskException e =
        catchThrowableOfType(
            () -> runner.exec(List.of("sleep", "30"), Duration.ofSeconds(1), null),
            DiskException.class);
    assertThat(e.code()).isEqualTo(ErrorCode.CommandFailed);
    assertThat(e.getMessage())
        .contains("'sleep 30' did not finish within 1 s", "no setting changes it")
        .doesNotContain("PT1S", "--", "raise");
  }

  @Test
  void argumentsAreNeverInterpretedByAShell() {
    assertThat(runner.run("echo", "$(id -u); rm -rf /nothing").stdout())
        .isEqualTo("$(id -u); rm -rf /nothing\n");
  }

  @Test
  void aMissingToolIsToolMissingWithAPackageHint() {
    DiskException e =
        catchThrowableOfType(() -> runner.run("mkfs.nonexistentfs", "x"), DiskException.class);
    assertThat(e.code()).isEqualTo(ErrorCode.ToolMissing);
    assertThat(e.getMessage()).contains("mkfs.nonexistentfs", "not installed");
    assertThat(CommandRunner.packageHint("mkfs.xfs")).contains("xfsprogs");
  }

  @Test
  void noSpaceInStderrBecomesNoSpace() {
    DiskException e =
        CommandRunner.failure(
            new CommandRunner.Result(
                List.of("cp", "a", "b"), 1, "", "cp: error writing 'b': No space left on device"));
    assertThat(e.code()).isEqualTo(ErrorCode.NoSpace);
    assertThat(e.getMessage()).contains("cp a b", "free space");
  }

  /**
   * mkfs.xfs follows its one-line complaint with 40 lines of usage: the message keeps the complaint
   * only.
   */
  @Test
  void aToolsUsageTextNeverReachesTheMessage(@TempDir Path tmp) throws Exception {
    Path small = tmp.resolve("small.img");
    try (var f = new RandomAccessFile(small.toFile(), "rw")) {
      f.setLength(64L << 20);
    }
    DiskException e =
        catchThrowableOfType(
            () -> runner.run("mkfs.xfs", "-f", "-q", small.toString()), DiskException.class);
    assertThat(e.code()).isEqualTo(ErrorCode.CommandFailed);
    assertThat(e.getMessage())
        .contains("mkfs.xfs -f -q " + small, "Filesystem must be larger than 300MB")
        .doesNotContain("Usage")
        .doesNotContain("blocksize");
    assertThat(e.getMessage().lines()).hasSize(1);

    DiskException lower =
        CommandRunner.failure(
            new CommandRunner.Result(
                List.of("tool"),
                2,
                "",
                "tool: bad option -- 'z'\n  usage: tool [-a] file\n  -a  all\n"));
    assertThat(lower.getMessage()).endsWith("tool: bad option -- 'z'");
    DiskException only =
        CommandRunner.failure(
            new CommandRunner.Result(List.of("tool"), 2, "Usage: tool FILE\n", ""));
    assertThat(only.getMessage()).endsWith(": (the tool printed only its usage text)");
  }

  @Test
  void aLongReportIsCutToAFewLines() {
    StringBuilder report = new StringBuilder();
    for (int i = 1; i <= 40; i++) report.append("Inode ").append(i).append(" has a bad block\n");
    DiskException e =
        CommandRunner.failure(
            new CommandRunner.Result(
                List.of("e2fsck", "-f", "-n", "x.img"), 4, report.toString(), ""));
    assertThat(e.getMessage().lines()).hasSize(CommandRunner.DETAIL_LINES + 1);
    assertThat(e.getMessage())
        .contains("Inode 1 has", "Inode 5 has", "(35 more lines)")
        .doesNotContain("Inode 6 has");
    DiskException wide =
        CommandRunner.failure(new CommandRunner.Result(List.of("cp"), 1, "", "x".repeat(100_000)));
    assertThat(wide.getMessage().length()).isLessThan(CommandRunner.DETAIL_CHARS + 100);
  }

  @Test
  void aTimeoutKillsTheCommand() {
    long start = System.nanoTime();
    DiskException e =
        catchThrowableOfType(
            () -> runner.exec(List.of("sleep", "30"), Duration.ofMillis(300), null),
            DiskException.class);
    assertThat(e.code()).isEqualTo(ErrorCode.CommandFailed);
    assertThat(e.getMessage()).contains("did not finish");
    assertThat(Duration.ofNanos(System.nanoTime() - start)).isLessThan(Duration.ofSeconds(10));
  }

  @Test
  void interruptingTheCallerKillsTheWholeProcessTree() throws Exception {
    AtomicReference<DiskException> failure = new AtomicReference<>();
    // Processes this JVM already runs (e.g. the suite's shared kube-apiserver and etcd) are not
    // this
    // command's: only what it starts must die.
    List<ProcessHandle> others = ProcessHandle.current().descendants().toList();
    // sh starts a child sleep: both must die, not only the direct child.
    Thread t =
        new Thread(
            () -> {
              try {
                runner.run("sh", "-c", "sleep 60 & wait");
              } catch (DiskException e) {
                failure.set(e);
              }
            });
    t.start();
    Thread.sleep(500);
    List<ProcessHandle> before =
        ProcessHandle.current().descendants().filter(p -> !others.contains(p)).toList();
    assertThat(before).isNotEmpty();
    t.interrupt();
    t.join(15_000);
    assertThat(t.isAlive()).isFalse();
    assertThat(failure.get().code()).isEqualTo(ErrorCode.Interrupted);
    for (ProcessHandle p : before) {
      p.onExit().get(10, TimeUnit.SECONDS);
      assertThat(p.isAlive()).as("process " + p.pid()).isFalse();
    }
  }
}
