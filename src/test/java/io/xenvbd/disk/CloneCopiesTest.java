package io.xenvbd.disk;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.catchThrowableOfType;

import io.xenvbd.testing.RequiresRoot;
import java.io.IOException;
import java.io.UncheckedIOException;
import java.nio.channels.FileChannel;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardOpenOption;
import java.util.ArrayList;
import java.util.List;
import java.util.Set;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicBoolean;
import java.util.concurrent.atomic.AtomicInteger;
import java.util.function.Consumer;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * Fleet clones of one template: the agent's own copies of it do not make it "in use" for the next
 * clone, whatever /proc shows of them at that moment, while any other process that holds it does.
 */
@RequiresRoot
class CloneCopiesTest {
  @TempDir Path tmp;

  /**
   * An own copy that holds the source while its /proc entry does not look like cp's any more: what
   * an exiting cp looks like (no command line, its descriptors still open), which made one clone of
   * a fleet fail with "process 2295 (?) has it open". Here the copy is a shell that opened the
   * source and became sleep, held open until the second clone has been checked: no timing luck.
   */
  @Test
  void anOwnCopyIsNotAHolderWhateverItsProcessLooksLike() throws Exception {
    Path source = Files.writeString(tmp.resolve("template.img"), "template");
    CloneCopies copies = new CloneCopies();
    CountDownLatch holding = new CountDownLatch(1);
    CompletableFuture<Process> first = new CompletableFuture<>();
    Thread copying = copyHoldingIt(copies, source, first, holding);
    Process own = first.get(30, TimeUnit.SECONDS);
    try {
      assertThat(holding.await(30, TimeUnit.SECONDS)).isTrue();
      assertThat(Holders.of(source)).anyMatch(h -> h.startsWith(own.pid() + " (sleep)"));

      int exit = copies.<Integer>copy(source, started -> waitFor(start(started, "true")));
      assertThat(exit).isZero(); // the second copy ran: the first one's hold did not refuse it
    } finally {
      own.destroyForcibly();
      copying.join(30_000);
    }
  }

  /** A process the agent did not start as a copy refuses the clone, also beside its own copies. */
  @Test
  void aForeignHolderStillRefusesTheClone() throws Exception {
    Path source = Files.writeString(tmp.resolve("guest.img"), "a guest's disk");
    CloneCopies copies = new CloneCopies();
    CountDownLatch holding = new CountDownLatch(1);
    CompletableFuture<Process> first = new CompletableFuture<>();
    Thread copying =
        new Thread(
            () ->
                copies.copy(
                    source,
                    started -> {
                      Process p = start(started, holderCommand(source));
                      first.complete(p);
                      awaitOpen(p);
                      holding.countDown();
                      return waitFor(p);
                    }));
    copying.start();
    Process own = first.get(30, TimeUnit.SECONDS);
    Process guest = InUseTest.holder(source); // e.g. QEMU's qdisk backend: no loop device
    try {
      assertThat(holding.await(30, TimeUnit.SECONDS)).isTrue();
      DiskException e = refusedCopy(copies, source);
      assertThat(e.getMessage())
          .contains("cannot clone " + source, "process " + guest.pid() + " (sleep) has it open")
          .doesNotContain(Long.toString(own.pid()));
    } finally {
      guest.destroyForcibly().waitFor(10, TimeUnit.SECONDS);
      own.destroyForcibly();
      copying.join(30_000);
    }
    // Once the guest is gone, the clone copies.
    assertThat(copies.<Integer>copy(source, started -> waitFor(start(started, "true")))).isZero();
  }

  /** A copy that has ended is forgotten: its pid is nobody's exemption afterwards. */
  @Test
  void aCopyThatEndedIsForgotten() throws Exception {
    Path source = Files.writeString(tmp.resolve("t.img"), "t");
    CloneCopies copies =
        new CloneCopies(
            (file, but) ->
                but.isEmpty() ? java.util.List.of() : java.util.List.of("exempted " + but));
    assertThat(copies.<Integer>copy(source, started -> waitFor(start(started, "true")))).isZero();
    assertThat(copies.<Integer>copy(source, started -> waitFor(start(started, "true")))).isZero();
  }

  /**
   * A stream of the source to another node and a local copy of it, at once: each is left out of the
   * other's check (both only read), while a third process holding it is still seen by both.
   */
  @Test
  void aStreamAndTheAgentsOwnCopiesOfOneSourceDoNotRefuseEachOther() throws Exception {
    Path source = Files.writeString(tmp.resolve("template.img"), "template");
    CloneCopies copies = new CloneCopies();
    CountDownLatch holding = new CountDownLatch(1);
    CompletableFuture<Process> first = new CompletableFuture<>();
    try (AutoCloseable stream = copies.streaming(source)) {
      // a window of the stream is being read when the copy's check runs
      FileChannel window = FileChannel.open(source, StandardOpenOption.READ);
      Thread copying = copyHoldingIt(copies, source, first, holding);
      Process own = first.get(30, TimeUnit.SECONDS);
      try {
        assertThat(holding.await(30, TimeUnit.SECONDS)).isTrue();
        assertThat(Holders.of(source))
            .as("what /proc showed when the copy was checked: this process too")
            .anyMatch(h -> h.startsWith(own.pid() + " "))
            .anyMatch(h -> h.startsWith(ProcessHandle.current().pid() + " "));
        window.close(); // the stream checks between its windows
        assertThat(copies.othersHolding(source)).as("the stream's check").isEmpty();
        Process guest = start(p -> {}, holderCommand(source));
        try {
          awaitOpen(guest);
          assertThat(copies.othersHolding(source))
              .as("the stream's check, with another process holding the source")
              .singleElement()
              .asString()
              .startsWith(guest.pid() + " ");
        } finally {
          guest.destroyForcibly();
          guest.waitFor();
        }
      } finally {
        window.close();
        own.destroyForcibly();
        copying.join(30_000);
      }
    }
  }

  /**
   * A grow (or delete) of a template and a clone's copy of it never overlap: the change is refused
   * while a copy runs, and a copy is refused while the change runs, without starting its process.
   * The holder scans alone left a window (a scan clears the file, then the other side opens it).
   */
  @Test
  void aGrowAndACloneOfOneTemplateRefuseEachOther() throws Exception {
    Path source = Files.writeString(tmp.resolve("template.img"), "template");
    CloneCopies copies = new CloneCopies();
    CountDownLatch holding = new CountDownLatch(1);
    CompletableFuture<Process> first = new CompletableFuture<>();
    Thread copying = copyHoldingIt(copies, source, first, holding);
    Process own = first.get(30, TimeUnit.SECONDS);
    try {
      assertThat(holding.await(30, TimeUnit.SECONDS)).isTrue();
      assertGrowRefusedForOneCopy(copies, source);
    } finally {
      own.destroyForcibly();
      copying.join(30_000);
    }
    try (CloneCopies.Held growing = copies.changing(source, CloneCopies.Change.GROW)) {
      assertThat(refusedCopy(copies, source).getMessage())
          .isEqualTo(
              "cannot clone "
                  + source
                  + " now: it is being grown; the clone is retried once that is done");
      assertThat(
              catchThrowableOfType(
                      () -> copies.changing(source, CloneCopies.Change.DELETE), DiskException.class)
                  .getMessage())
          .as("a second change while the first runs")
          .isEqualTo(
              "cannot delete "
                  + source
                  + " now: it is being grown; the delete is retried once that is done");
      growing.close();
      growing.close(); // a later close (this one, the try's) undoes nothing more
    }
    // Once the grow is over, clones copy again.
    assertThat(copies.<Integer>copy(source, started -> waitFor(start(started, "true")))).isZero();
  }

  /**
   * A copy made in this process (ExtentCopy) holds the source through this JVM and through its
   * extent report's process: while it runs, neither is a holder for another clone's check or a
   * stream's (a fleet's clones were refused for "process 4762 (xfs_io)"), a grow is refused, and
   * another process holding the source still refuses a clone. Once it ended, the same file held
   * open in this process (not by a copy) refuses a clone again.
   */
  @Test
  void aCopyInTheAgentsOwnProcessIsNoHolderWhileItRunsAndRefusesAGrow() throws Exception {
    Path source = Files.writeString(tmp.resolve("template.img"), "template");
    CloneCopies copies = new CloneCopies();
    CountDownLatch holding = new CountDownLatch(1);
    CountDownLatch release = new CountDownLatch(1);
    String self = ProcessHandle.current().pid() + " (";
    CompletableFuture<Void> inAgent =
        CompletableFuture.runAsync(
            () ->
                copies.copyInAgent(
                    source,
                    started -> {
                      // its extent report (xfs_io), which holds the source while the copy reads it
                      Process report = start(started, holderCommand(source));
                      awaitOpen(report);
                      try (FileChannel read = FileChannel.open(source, StandardOpenOption.READ)) {
                        holding.countDown();
                        return release.await(60, TimeUnit.SECONDS);
                      } catch (IOException | InterruptedException e) {
                        throw new IllegalStateException(e);
                      } finally {
                        report.destroyForcibly();
                        waitFor(report);
                      }
                    }));
    try {
      assertThat(holding.await(30, TimeUnit.SECONDS)).isTrue();
      assertThat(Holders.of(source)).anyMatch(h -> h.startsWith(self));
      assertThat(copies.<Integer>copy(source, started -> waitFor(start(started, "true"))))
          .as("another clone's copy, by a process")
          .isZero();
      assertThat(copies.copyInAgent(source, CloneCopiesTest::copiedInAgent)).isEqualTo("copied");
      assertThat(copies.othersHolding(source)).as("a stream's check").isEmpty();
      assertGrowRefusedForOneCopy(copies, source);
      Process guest = InUseTest.holder(source);
      try {
        assertThat(refusedCopy(copies, source).getMessage())
            .contains("process " + guest.pid() + " (sleep) has it open")
            .doesNotContain(self);
      } finally {
        guest.destroyForcibly().waitFor(10, TimeUnit.SECONDS);
      }
    } finally {
      release.countDown();
      inAgent.get(30, TimeUnit.SECONDS);
    }
    try (FileChannel held = FileChannel.open(source, StandardOpenOption.READ)) {
      DiskException e =
          catchThrowableOfType(
              () -> copies.copyInAgent(source, CloneCopiesTest::copiedInAgent),
              DiskException.class);
      assertThat(e).isNotNull();
      assertThat(e.code()).isEqualTo(ErrorCode.ImageInUse);
      assertThat(e.getMessage()).contains("process " + self);
    }
    try (CloneCopies.Held grown = copies.changing(source, CloneCopies.Change.GROW)) {
      assertThat(grown).as("a grow once no copy runs").isNotNull();
    }
  }

  /**
   * A process this JVM is starting holds what the JVM holds until it executes its program (Java
   * opens files without O_CLOEXEC): where the JVM itself is left out (it copies or streams the
   * file), so is such a child, running the JVM's own binary here; a child running any other
   * program, and any process once the JVM is not left out, still counts.
   */
  @Test
  void aProcessThisJvmIsStartingIsLeftOutWithTheJvmAndNothingElse() throws Exception {
    Path file = Files.writeString(tmp.resolve("template.img"), "template");
    Path sleeper =
        Files.writeString(
            tmp.resolve("Sleep.java"),
            "class Sleep { public static void main(String[] a) throws Exception {"
                + " System.out.println(\"open\"); Thread.sleep(120_000); } }");
    String java = Path.of(System.getProperty("java.home"), "bin", "java").toString();
    Process jvmChild =
        new ProcessBuilder(
                "bash",
                "-c",
                "exec 3<\"$0\"; exec \"$1\" \"$2\"",
                file.toString(),
                java,
                sleeper.toString())
            .redirectErrorStream(true)
            .start();
    Process other = InUseTest.holder(file);
    try {
      readOpen(jvmChild); // the JVM it became says it
      String starting = jvmChild.pid() + " (";
      String sleeping = other.pid() + " (sleep)";
      assertThat(Holders.of(file))
          .anyMatch(h -> h.startsWith(starting))
          .anyMatch(h -> h.startsWith(sleeping));
      assertThat(Holders.of(file, Set.of(ProcessHandle.current().pid())))
          .noneMatch(h -> h.startsWith(starting))
          .anyMatch(h -> h.startsWith(sleeping));
    } finally {
      jvmChild.destroyForcibly().waitFor(10, TimeUnit.SECONDS);
      other.destroyForcibly().waitFor(10, TimeUnit.SECONDS);
    }
  }

  /**
   * A child of this JVM holds the JVM's descriptors until its helper closes them and executes the
   * program, so a scan can see it hold the file as jspawnhelper and then read the program's name:
   * one clone of an ext4 fleet was refused for "process 32405 (stat) has it open". Here this JVM
   * holds the file (as a copy in the agent does) while another thread starts short processes; no
   * scan that leaves this JVM out may name one of them.
   */
  @Test
  void aChildThatExecutesItsProgramDuringTheScanIsNoHolder() throws Exception {
    Path file = Files.writeString(tmp.resolve("template.img"), "template");
    long self = ProcessHandle.current().pid();
    AtomicBoolean stop = new AtomicBoolean();
    AtomicInteger started = new AtomicInteger();
    Thread spawning =
        new Thread(
            () -> {
              while (!stop.get()) {
                try {
                  new ProcessBuilder("stat", "-c", "%s", file.toString())
                      .redirectOutput(ProcessBuilder.Redirect.DISCARD)
                      .start()
                      .waitFor();
                  started.incrementAndGet();
                } catch (IOException | InterruptedException e) {
                  return;
                }
              }
            });
    List<String> named = new ArrayList<>();
    try (FileChannel held = FileChannel.open(file, StandardOpenOption.READ)) {
      spawning.start();
      for (long end = System.nanoTime() + 3_000_000_000L; System.nanoTime() < end; )
        named.addAll(Holders.of(file, Set.of(self)));
    } finally {
      stop.set(true);
      spawning.join(30_000);
    }
    assertThat(started.get()).as("processes started during the scans").isGreaterThan(50);
    assertThat(named).isEmpty();
  }

  /** A clone of a template being deleted is told that waiting will not help. */
  @Test
  void aCloneOfATemplateBeingDeletedIsToldToCloneAnother() throws Exception {
    Path source = Files.writeString(tmp.resolve("template.img"), "template");
    CloneCopies copies = new CloneCopies();
    try (CloneCopies.Held deleting = copies.changing(source, CloneCopies.Change.DELETE)) {
      assertThat(refusedCopy(copies, source).getMessage())
          .isEqualTo(
              "cannot clone "
                  + source
                  + " now: it is being deleted; clone a VirtualDisk that is kept (this clone is"
                  + " retried, and fails if the delete goes through)");
    }
  }

  /**
   * A copy whose wait was cut short (a timeout or an interrupt, then a kill that a process in
   * uninterruptible sleep outlives) still reads the template: a grow stays refused until its
   * process is really gone, and is allowed once it is.
   */
  @Test
  void aCopyThatOutlivesItsWaitStillRefusesAGrowUntilItIsGone() throws Exception {
    Path source = Files.writeString(tmp.resolve("template.img"), "template");
    CloneCopies copies = new CloneCopies();
    Process[] copy = new Process[1];
    DiskException cut =
        catchThrowableOfType(
            () ->
                copies.copy(
                    source,
                    started -> {
                      copy[0] = start(started, holderCommand(source));
                      awaitOpen(copy[0]);
                      throw new DiskException(ErrorCode.Interrupted, "interrupted while copying");
                    }),
            DiskException.class);
    assertThat(cut.code()).isEqualTo(ErrorCode.Interrupted);
    try {
      assertThat(copy[0].isAlive()).isTrue();
      assertGrowRefusedForOneCopy(copies, source);
    } finally {
      copy[0].destroyForcibly().waitFor(30, TimeUnit.SECONDS);
    }
    long deadline = System.nanoTime() + TimeUnit.SECONDS.toNanos(10);
    CloneCopies.Held growing = null;
    while (growing == null) {
      try {
        growing = copies.changing(source, CloneCopies.Change.GROW);
      } catch (DiskException e) {
        if (System.nanoTime() > deadline) throw e; // the reaped copy was never forgotten
        Thread.sleep(20);
      }
    }
    growing.close();
  }

  /**
   * An own copy of {@code source}, started on a thread of its own, that holds the source open until
   * destroyed: {@code first} gets its process, {@code holding} counts down once it has the source
   * open.
   */
  private static Thread copyHoldingIt(
      CloneCopies copies, Path source, CompletableFuture<Process> first, CountDownLatch holding) {
    Thread copying =
        new Thread(
            () -> {
              try {
                copies.copy(
                    source,
                    started -> {
                      Process p = start(started, holderCommand(source));
                      first.complete(p);
                      awaitOpen(p);
                      holding.countDown();
                      return waitFor(p);
                    });
              } catch (RuntimeException e) {
                first.completeExceptionally(e);
              }
            });
    copying.start();
    return copying;
  }

  /** A grow of {@code source} refused with ImageInUse because one copy of it is this agent's. */
  private static void assertGrowRefusedForOneCopy(CloneCopies copies, Path source) {
    DiskException grow =
        catchThrowableOfType(
            () -> copies.changing(source, CloneCopies.Change.GROW), DiskException.class);
    assertThat(grow).as("the grow was refused").isNotNull();
    assertThat(grow.code()).isEqualTo(ErrorCode.ImageInUse);
    assertThat(grow.getMessage())
        .isEqualTo(
            "cannot grow "
                + source
                + " now: this agent is copying it for 1 clone(s); it is retried once they are"
                + " done");
  }

  /** A copy of {@code source} refused with ImageInUse before its process was started. */
  private static DiskException refusedCopy(CloneCopies copies, Path source) {
    boolean[] ran = {false};
    DiskException e =
        catchThrowableOfType(
            () ->
                copies.copy(
                    source,
                    started -> {
                      ran[0] = true;
                      return waitFor(start(started, "true"));
                    }),
            DiskException.class);
    assertThat(e).as("the copy was refused").isNotNull();
    assertThat(e.code()).isEqualTo(ErrorCode.ImageInUse);
    assertThat(ran[0]).as("the copy's process was started").isFalse();
    return e;
  }

  private static String[] holderCommand(Path source) {
    return new String[] {
      "bash", "-c", "exec 3<\"$0\"; echo open; exec sleep 120", source.toString()
    };
  }

  private static Process start(Consumer<Process> started, String... command) {
    try {
      Process p = new ProcessBuilder(command).redirectErrorStream(true).start();
      started.accept(p);
      return p;
    } catch (IOException e) {
      throw new UncheckedIOException(e);
    }
  }

  /** A {@link #holderCommand} has the source open and has become sleep. */
  private static void awaitOpen(Process p) {
    readOpen(p);
    InUseTest.awaitCommand(p, "sleep");
  }

  /** The process has said "open". */
  private static void readOpen(Process p) {
    try {
      p.getInputStream().read(new byte[5]);
    } catch (IOException e) {
      throw new UncheckedIOException(e);
    }
  }

  /** An in-agent copy that only runs its one process. */
  private static String copiedInAgent(Consumer<Process> started) {
    waitFor(start(started, "true"));
    return "copied";
  }

  private static int waitFor(Process p) {
    try {
      return p.waitFor();
    } catch (InterruptedException e) {
      throw new IllegalStateException(e);
    }
  }
}
