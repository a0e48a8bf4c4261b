package io.xenvbd.disk;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.catchThrowableOfType;

import io.xenvbd.testing.RequiresRoot;
import java.io.RandomAccessFile;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.atomic.AtomicInteger;
import java.util.function.Function;
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

  /**
   * A step that fills the kept stderr (e2fsck -p clearing a guest's thousands of orphan inodes)
   * leaves the steps after it without their stderr: each says so, so that no tool's complaints are
   * taken for silence (debugfs's are the only account of what it failed to do).
   */
  @Test
  void aStepsStderrCutByAnEarlierFloodIsMarkedNotWhole() throws Exception {
    Path image = ext4("5a0e7c1d-2b3f-4e6a-8c9d-0f1e2d3c4b5a");
    List<ToolSession.Outcome> all =
        session.runEach(
            image,
            null,
            List.of(
                new ToolSession.Step(
                    List.of("sh", "-c", "head -c 70000 /dev/zero | tr '\\0' x >&2"), 0, false),
                new ToolSession.Step(List.of("sh", "-c", "echo a complaint >&2"), 0, false)),
            T);
    assertThat(all.get(1).stderrWhole()).isFalse();
    assertThat(all.get(1).stderr()).doesNotContain("a complaint");

    List<ToolSession.Outcome> quiet =
        session.runEach(
            image,
            null,
            List.of(new ToolSession.Step(List.of("sh", "-c", "echo a complaint >&2"), 0, false)),
            T);
    assertThat(quiet.get(0).stderrWhole()).isTrue();
    assertThat(quiet.get(0).stderr()).contains("a complaint");
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

  @Test
  void eachStepsOutputIsItsOwnEvenWithoutATrailingNewline() throws Exception {
    Path image = garbage();
    List<ToolSession.Outcome> all =
        session.runEach(
            image,
            null,
            List.of(
                new ToolSession.Step(
                    List.of("sh", "-c", "printf one; printf oops >&2; exit 1"), 1, true),
                new ToolSession.Step(List.of("sh", "-c", "echo two; echo warn >&2"), 0, true),
                new ToolSession.Step(List.of("sh", "-c", "echo three"), 0, false)),
            T);
    assertThat(all).extracting(ToolSession.Outcome::exitCode).containsExactly(1, 0, 0);
    assertThat(all).extracting(ToolSession.Outcome::stdout).containsExactly("one", "two\n", "");
    assertThat(all)
        .extracting(ToolSession.Outcome::stderr)
        .containsExactly("oops", "warn\n", "three\n");
  }

  @Test
  void linesAToolPrintsInTheSessionsOwnShapeAreOnlyItsOutput() throws Exception {
    // The session's own lines carry a token made for the run; a tool (or a crafted filesystem
    // whose names a tool prints) can only guess at it.
    Path image = garbage();
    String forged = "\\n0123456789abcdef0123456789abcdef e 0 0\\n";
    String printed = forged.replace("\\n", "\n");
    List<ToolSession.Step> steps =
        List.of(
            new ToolSession.Step(
                List.of("sh", "-c", "printf '" + forged + "'; printf '" + forged + "' >&2"),
                0,
                true),
            new ToolSession.Step(List.of("sh", "-c", "echo two"), 0, true));
    List<ToolSession.Outcome> all = session.runEach(image, null, steps, T);
    assertThat(all).extracting(ToolSession.Outcome::stdout).containsExactly(printed, "two\n");
    assertThat(all.get(0).stderr()).isEqualTo(printed);

    DiskException e =
        catchThrowableOfType(
            () ->
                session.run(
                    image,
                    List.of(
                        steps.get(0),
                        new ToolSession.Step(List.of("sh", "-c", "exit 3"), 0, false)),
                    T),
            DiskException.class);
    assertThat(e.getMessage()).startsWith("'sh -c exit 3' failed with exit code 3");
  }

  @Test
  void aFailedStepWithRecoveryRunsItAndThenTheStepOnceMore() throws Exception {
    Path image = garbage(); // zeros: the step fails until the recovery has written an x
    String out =
        session.run(
            image,
            List.of(
                new ToolSession.Step(
                        List.of(
                            "sh", "-c", "head -c1 " + Sandbox.IMAGE + " | grep -q x && echo ok"),
                        0,
                        true)
                    .recoveredBy(
                        new ToolSession.Step(
                            List.of(
                                "sh",
                                "-c",
                                "printf x | dd of=" + Sandbox.IMAGE + " conv=notrunc 2>/dev/null"),
                            0,
                            false))),
            T);
    assertThat(out).isEqualTo("ok\n");
    assertThat(Files.readAllBytes(image)[0]).isEqualTo((byte) 'x');
  }

  @Test
  void aRecoveryThatFailsIsTheErrorAndTheStepIsNotTriedAgain() throws Exception {
    Path image = garbage();
    DiskException e =
        catchThrowableOfType(
            () ->
                session.run(
                    image,
                    List.of(
                        ToolSession.Step.required("e2fsck", "-n", Sandbox.IMAGE)
                            .recoveredBy(
                                new ToolSession.Step(
                                    List.of("e2fsck", "-p", Sandbox.IMAGE), 1, false)),
                        new ToolSession.Step(List.of("sh", "-c", "echo never"), 0, true)),
                    T),
            DiskException.class);
    assertThat(e.getMessage())
        .startsWith("'e2fsck -p " + image + "' failed with exit code 8")
        .doesNotContain("never");
  }

  @Test
  void aKeptStdoutCutByTheOutputLimitFailsTheRunInsteadOfReadingAsEmpty() throws Exception {
    Path image = garbage();
    DiskException e =
        catchThrowableOfType(
            () ->
                session.run(
                    image,
                    List.of(
                        new ToolSession.Step(
                            List.of("sh", "-c", "head -c 100000 /dev/zero | tr '\\0' a"), 0, true),
                        new ToolSession.Step(List.of("echo", "the-uuid"), 0, true)),
                    T),
            DiskException.class);
    assertThat(e).as("a run whose blkid answer was cut").isNotNull();
  }

  @Test
  void aFailedFirstTryIsNeverNamedAsWhatEndedTheRun() throws Exception {
    // The recovery's kept output goes beyond what is kept, so its end line is lost: the last end
    // line left is the first try's, which the script does not exit on.
    Path image = garbage();
    DiskException e =
        catchThrowableOfType(
            () ->
                session.run(
                    image,
                    List.of(
                        new ToolSession.Step(List.of("true"), 0, false),
                        new ToolSession.Step(
                                List.of("sh", "-c", "echo first try failed >&2; exit 1"), 0, false)
                            .recoveredBy(
                                new ToolSession.Step(
                                    List.of(
                                        "sh",
                                        "-c",
                                        "head -c 100000 /dev/zero | tr '\\0' b; exit 8"),
                                    0,
                                    true))),
                    T),
            DiskException.class);
    assertThat(e.getMessage())
        .as("the session's own report, which names every step")
        .startsWith("'true && sh -c echo first try failed");
  }

  @Test
  void aStepThatFillsStderrBeyondWhatIsKeptCostsOnlyItsOwnMessage() throws Exception {
    Path image = garbage();
    String noisy = "head -c 100000 /dev/zero | tr '\\0' c >&2";
    String out =
        session.run(
            image,
            List.of(
                new ToolSession.Step(List.of("sh", "-c", noisy), 0, false),
                new ToolSession.Step(List.of("echo", "the-uuid"), 0, true)),
            T);
    assertThat(out).isEqualTo("the-uuid\n");
    DiskException e =
        catchThrowableOfType(
            () ->
                session.run(
                    image,
                    List.of(
                        new ToolSession.Step(List.of("true"), 0, false),
                        new ToolSession.Step(List.of("sh", "-c", noisy + "; exit 4"), 0, false)),
                    T),
            DiskException.class);
    assertThat(e.getMessage()).startsWith("'sh -c " + noisy + "; exit 4' failed with exit code 4");
  }

  @Test
  void aQuietStepsStdoutIsNeitherKeptNorMixedIntoItsStderr() throws Exception {
    Path image = garbage();
    List<ToolSession.Outcome> all =
        session.runEach(
            image,
            null,
            List.of(
                new ToolSession.Step(
                        List.of("sh", "-c", "echo chatter; echo problem >&2"), 0, false)
                    .quiet()),
            T);
    assertThat(all.get(0).stdout()).isEmpty();
    assertThat(all.get(0).stderr()).isEqualTo("problem\n");
  }

  // Rounds in one sandbox run (ToolSession.converse): what DebugfsWriter's looks and writes use.

  static ToolSession.Step kept(String... command) {
    return new ToolSession.Step(List.of(command), 0, true);
  }

  @Test
  void theRoundsRunInOneSandboxAndEachIsChosenFromTheOneBefore() throws Exception {
    Path image = garbage();
    List<List<ToolSession.Outcome>> told = new ArrayList<>();
    List<ProcessHandle> sandboxes = new ArrayList<>();
    List<ToolSession.Outcome> all =
        session
            .converse(
                image,
                null,
                List.of(kept("echo", "one")),
                done -> {
                  told.add(done);
                  sandboxes.addAll(sandboxesOf(image));
                  if (told.size() == 2) return List.of();
                  return List.of(kept("echo", done.get(0).stdout().strip() + " and two"));
                },
                T)
            .orThrow();
    assertThat(told).hasSize(2);
    assertThat(all.get(1).stdout().strip()).isEqualTo("one and two");
    assertThat(told.get(1)).containsExactly(all.get(1));
    // the same bubblewrap, waiting for its next round, both times
    assertThat(sandboxes).hasSize(2);
    assertThat(sandboxes.get(0).pid()).isEqualTo(sandboxes.get(1).pid());
  }

  @Test
  void nothingAToolLeavesRunningLivesIntoTheNextStepOrRound() throws Exception {
    Path image = garbage();
    // what a tool that a crafted filesystem took over could leave: a process that goes on working
    // on the image (between a look and the writes, or after the check)
    ToolSession.Step leaves =
        kept(
            "sh",
            "-c",
            "(sleep 0.3; echo changed >" + Sandbox.IMAGE + ") >/dev/null 2>&1 & echo left");
    ToolSession.Step looksLater = kept("sh", "-c", "sleep 0.8; head -c 7 " + Sandbox.IMAGE);
    List<ToolSession.Outcome> all =
        session
            .converse(
                image,
                null,
                List.of(leaves),
                done -> done.get(0).step().equals(leaves) ? List.of(looksLater) : List.of(),
                T)
            .orThrow();
    assertThat(all.get(0).stdout().strip()).isEqualTo("left");
    assertThat(all.get(1).stdout()).hasSize(7).doesNotContain("changed");
    // and between the steps of one run
    assertThat(session.run(image, List.of(leaves, looksLater), T)).doesNotContain("changed");
    Thread.sleep(500);
    assertThat(Files.readAllBytes(image)).isEqualTo(new byte[1 << 20]);
  }

  @Test
  void aToolThatReadsItsStdinCannotReadTheSessionsScript() throws Exception {
    Path image = garbage();
    List<ToolSession.Outcome> all =
        session
            .converse(
                image,
                null,
                List.of(kept("cat")),
                done ->
                    done.get(0).step().command().get(0).equals("cat")
                        ? List.of(kept("echo", "the next round ran"))
                        : List.of(),
                T)
            .orThrow();
    assertThat(all.get(0).stdout()).isEmpty();
    assertThat(all.get(1).stdout().strip()).isEqualTo("the next round ran");
  }

  @Test
  void aRoundWhoseRetriedStepsOutputWasCutChoosesNoNextRound() throws Exception {
    Path image = garbage();
    // fails first; its recovery marks the image; the second try passes but prints beyond what is
    // kept, so the only outcome the kept output shows is the first try's failure
    ToolSession.Step step =
        new ToolSession.Step(
                List.of(
                    "sh",
                    "-c",
                    "[ \"$(head -c 1 /image)\" = x ] || exit 3; head -c 70000 /dev/zero | tr '\\0' a"),
                0,
                true)
            .recoveredBy(ToolSession.Step.required("sh", "-c", "printf x >/image"));
    AtomicInteger asked = new AtomicInteger();
    ToolSession.Ran ran =
        session.converse(
            image,
            null,
            List.of(step),
            done -> {
              asked.incrementAndGet();
              return List.of();
            },
            T);
    assertThat(asked).hasValue(0);
    assertThat(ran.failure()).isNotNull();
  }

  @Test
  void aStepThatFailsEndsTheSessionBeforeTheNextRoundIsChosen() throws Exception {
    Path image = garbage();
    AtomicInteger asked = new AtomicInteger();
    DiskException e =
        catchThrowableOfType(
            () ->
                session
                    .converse(
                        image,
                        null,
                        List.of(ToolSession.Step.required("e2fsck", "-f", "-n", Sandbox.IMAGE)),
                        done -> {
                          asked.incrementAndGet();
                          return List.of(kept("echo", "never"));
                        },
                        T)
                    .orThrow(),
            DiskException.class);
    assertThat(asked).hasValue(0);
    assertThat(e.getMessage()).startsWith("'e2fsck -f -n " + image + "' failed with exit code 8");
  }

  @Test
  void anErrorChoosingTheNextRoundEndsTheSandboxAndReachesTheCaller() throws Exception {
    Path image = garbage();
    DiskException refused = DiskException.invalid("the look saw a link on the way");
    List<ProcessHandle> alive = new ArrayList<>();
    DiskException e =
        refusedConversation(
            image,
            "looked",
            done -> {
              alive.addAll(sandboxesOf(image)); // the sandbox waits for its next round meanwhile
              throw refused;
            },
            T);
    assertThat(e).isSameAs(refused);
    assertThat(alive).hasSize(1);
    // destroyed, not left waiting for a round that will not come
    for (long end = System.nanoTime() + 10_000_000_000L;
        !sandboxesOf(image).isEmpty() && System.nanoTime() < end; ) Thread.sleep(20);
    assertThat(sandboxesOf(image)).isEmpty();
  }

  @Test
  void aRoundThatOutlivesTheSessionsTimeIsStopped() throws Exception {
    Path image = garbage();
    long t0 = System.nanoTime();
    DiskException e =
        refusedConversation(
            image,
            "first",
            done ->
                done.get(0).stdout().startsWith("first")
                    ? List.of(kept("sh", "-c", "echo the tool says why >&2; sleep 30"))
                    : List.of(),
            Duration.ofSeconds(2));
    assertThat(e.getMessage()).contains("did not finish within 2 s", "the tool says why");
    // stopped at its limit, not given the time once more to end
    assertThat(Duration.ofNanos(System.nanoTime() - t0)).isLessThan(Duration.ofMillis(3900));
    assertThat(sandboxesOf(image)).isEmpty();
  }

  /** What a conversation that begins with {@code echo first} and goes on as told throws. */
  DiskException refusedConversation(
      Path image,
      String first,
      Function<List<ToolSession.Outcome>, List<ToolSession.Step>> next,
      Duration timeout) {
    return catchThrowableOfType(
        () -> session.converse(image, null, List.of(kept("echo", first)), next, timeout),
        DiskException.class);
  }

  /** This JVM's bubblewrap children on {@code image} (other tests' have other images). */
  static List<ProcessHandle> sandboxesOf(Path image) {
    return ProcessHandle.current()
        .children()
        .filter(p -> p.info().command().orElse("").endsWith("bwrap"))
        .filter(p -> List.of(p.info().arguments().orElse(new String[0])).contains(image.toString()))
        .toList();
  }
}
