package io.xenvbd.disk;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.catchThrowableOfType;

import java.time.Duration;
import java.util.List;
import java.util.concurrent.atomic.AtomicReference;
import org.junit.jupiter.api.Test;

class CommandRunnerTest {
  final CommandRunner runner = new CommandRunner(Duration.ofSeconds(20));

  @Test
  void keepsOutputAndFailsWithTheCommandAndItsStderr() {
    assertThat(runner.run("printf", "a b").stdout()).isEqualTo("a b");
    DiskException e = catchThrowableOfType(() -> runner.run("ls", "/definitely/not/here"), DiskException.class);
    assertThat(e.code()).isEqualTo(ErrorCode.CommandFailed);
    assertThat(e.getMessage()).contains("ls /definitely/not/here", "exit code 2", "No such file or directory");
  }

  @Test
  void argumentsAreNeverInterpretedByAShell() {
    assertThat(runner.run("echo", "$(id -u); rm -rf /nothing").stdout()).isEqualTo("$(id -u); rm -rf /nothing\n");
  }

  @Test
  void aMissingToolIsToolMissingWithAPackageHint() {
    DiskException e = catchThrowableOfType(() -> runner.run("mkfs.nonexistentfs", "x"), DiskException.class);
    assertThat(e.code()).isEqualTo(ErrorCode.ToolMissing);
    assertThat(e.getMessage()).contains("mkfs.nonexistentfs", "not installed");
    assertThat(CommandRunner.packageHint("mkfs.xfs")).contains("xfsprogs");
  }

  @Test
  void noSpaceInStderrBecomesNoSpace() {
    DiskException e = CommandRunner.failure(new CommandRunner.Result(List.of("cp", "a", "b"), 1, "",
        "cp: error writing 'b': No space left on device"));
    assertThat(e.code()).isEqualTo(ErrorCode.NoSpace);
    assertThat(e.getMessage()).contains("cp a b", "free space");
  }

  @Test
  void aTimeoutKillsTheCommand() {
    long start = System.nanoTime();
    DiskException e = catchThrowableOfType(() -> runner.exec(List.of("sleep", "30"), Duration.ofMillis(300), null),
        DiskException.class);
    assertThat(e.code()).isEqualTo(ErrorCode.CommandFailed);
    assertThat(e.getMessage()).contains("did not finish");
    assertThat(Duration.ofNanos(System.nanoTime() - start)).isLessThan(Duration.ofSeconds(10));
  }

  @Test
  void interruptingTheCallerKillsTheWholeProcessTree() throws Exception {
    AtomicReference<DiskException> failure = new AtomicReference<>();
    // sh starts a child sleep: both must die, not only the direct child.
    Thread t = new Thread(() -> {
      try {
        runner.run("sh", "-c", "sleep 60 & wait");
      } catch (DiskException e) {
        failure.set(e);
      }
    });
    t.start();
    Thread.sleep(500);
    List<ProcessHandle> before = ProcessHandle.current().descendants().toList();
    assertThat(before).isNotEmpty();
    t.interrupt();
    t.join(15_000);
    assertThat(t.isAlive()).isFalse();
    assertThat(failure.get().code()).isEqualTo(ErrorCode.Interrupted);
    for (ProcessHandle p : before) {
      p.onExit().get(10, java.util.concurrent.TimeUnit.SECONDS);
      assertThat(p.isAlive()).as("process " + p.pid()).isFalse();
    }
  }
}
