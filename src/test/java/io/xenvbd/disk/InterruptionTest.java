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
import java.time.Duration;
import java.util.List;
import java.util.Random;
import java.util.concurrent.CopyOnWriteArrayList;
import java.util.concurrent.atomic.AtomicBoolean;
import java.util.concurrent.atomic.AtomicReference;
import java.util.concurrent.locks.LockSupport;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.CsvSource;

/**
 * An interrupted build leaves no image, no mount and no loop device; a crashed one is cleaned by
 * recover().
 */
@RequiresRoot
class InterruptionTest {
  @TempDir static Path tmp;
  static Path allowed;

  @BeforeAll
  static void bigSource() throws IOException {
    allowed = tmp.resolve("allowed");
    Path src = allowed.resolve("tree");
    Random r = new Random(42);
    byte[] block = new byte[1 << 20];
    for (int d = 0; d < 4; d++) {
      Files.createDirectories(src.resolve("d" + d));
      for (int f = 0; f < 12; f++) {
        r.nextBytes(block);
        Files.write(src.resolve("d" + d + "/f" + f), block);
      }
    }
  }

  @AfterAll
  static void nothingLeftAttached() {
    assertNothingAttachedUnder(tmp);
  }

  static Populate populate(Populate.Method m) {
    return new Populate(
        List.of(new Populate.HostPath(allowed.resolve("tree").toString(), "/srv")),
        null,
        null,
        List.of("/tmp"),
        m);
  }

  /**
   * The listener runs on the building thread: interrupting there stops the build at exactly that
   * stage.
   */
  // ext3 through a loop mount is built without a journal until after the unmount: interrupted while
  // journal-less (Tailor) or journalled but not yet checked and published (Check), nothing is left.
  @ParameterizedTest(name = "{0} at {1} ({2})")
  @CsvSource({
    "Offline,Create,ext4",
    "Offline,Populate,ext4",
    "Offline,Tailor,ext4",
    "Offline,Format,ext4",
    "Offline,Check,ext4",
    "Offline,Publish,ext4",
    "LoopMount,Create,ext4",
    "LoopMount,Format,ext4",
    "LoopMount,Populate,ext4",
    "LoopMount,Tailor,ext4",
    "LoopMount,Check,ext4",
    "LoopMount,Publish,ext4",
    "LoopMount,Tailor,ext3",
    "LoopMount,Check,ext3",
    "LoopMount,Publish,ext3"
  })
  void interruptAtAnyStageLeavesNothing(Populate.Method method, String stage, Filesystem fs) {
    Path root = tmp.resolve("stage-" + method + "-" + stage + "-" + fs);
    DiskEngine engine = engine(root, allowed);
    DiskRequest req =
        request("vm", spec("96Mi", fs, populate(method), new Tailor("vm", null, null)));
    ProgressListener interruptAt =
        (s, done, total, pct) -> {
          if (s.equals(stage)) Thread.currentThread().interrupt();
        };

    DiskException e =
        catchThrowableOfType(() -> engine.build(req, interruptAt), DiskException.class);
    boolean flagKept = Thread.interrupted(); // also clears it for the next test

    assertThat(e).isNotNull();
    assertThat(e.code()).isEqualTo(ErrorCode.Interrupted);
    assertThat(flagKept).as("the interrupt flag is restored for the caller").isTrue();
    assertThat(engine.inspect("default", "vm")).isEmpty();
    assertThat(nonImageEntries(root)).isEmpty();
    assertThat(engine.inventory().leftovers()).isEmpty();
    assertNothingAttachedUnder(root);
    // The same request then builds fine: an interruption has no lasting effect.
    assertThat(engine.build(req, ProgressListener.NONE).path()).exists();
  }

  @Test
  void interruptingTheBuildingThreadDuringACopyKillsItAndCleansUp() throws Exception {
    Path root = tmp.resolve("thread");
    DiskEngine engine = engine(root, allowed);
    DiskRequest req =
        request("vm", spec("128Mi", Filesystem.ext4, populate(Populate.Method.LoopMount), null));
    AtomicReference<Throwable> failure = new AtomicReference<>();
    Thread builder =
        new Thread(
            () -> {
              try {
                engine.build(req, ProgressListener.NONE);
              } catch (Throwable t) {
                failure.set(t);
              }
            });
    builder.start();
    // Interrupt once the copy into the mounted image has started (a mount under the root exists).
    long deadline = System.currentTimeMillis() + 30_000;
    while (new MountTable().mountPointsUnder(root).isEmpty()
        && builder.isAlive()
        && System.currentTimeMillis() < deadline) {
      Thread.sleep(5);
    }
    builder.interrupt();
    builder.join(60_000);

    assertThat(builder.isAlive()).isFalse();
    assertThat(failure.get()).isInstanceOf(DiskException.class);
    assertThat(((DiskException) failure.get()).code()).isEqualTo(ErrorCode.Interrupted);
    assertThat(engine.inspect("default", "vm")).isEmpty();
    assertThat(nonImageEntries(root)).isEmpty();
    assertNothingAttachedUnder(root);
    assertThat(WriteBackTest.writeBackThreads()).as("the write-out during the copy").isEmpty();
  }

  /**
   * A cancelled build can be interrupted again while it unmounts and removes its temporaries (the
   * agent cancels, then stops). Interrupts every millisecond from the Tailor stage on, through the
   * whole cleanup: the umount, losetup -d and rm still run to the end.
   */
  @ParameterizedTest(name = "{0}")
  @CsvSource({"LoopMount", "Offline"})
  void interruptsThatKeepArrivingDuringCleanupLeaveNothing(Populate.Method method)
      throws Exception {
    Path root = tmp.resolve("storm-" + method);
    DiskEngine engine = engine(root, allowed);
    DiskRequest req =
        request(
            "vm", spec("96Mi", Filesystem.ext4, populate(method), new Tailor("vm", null, null)));
    Thread building = Thread.currentThread();
    AtomicBoolean storm = new AtomicBoolean(true);
    Thread interrupter =
        new Thread(
            () -> {
              while (storm.get()) {
                building.interrupt();
                LockSupport.parkNanos(1_000_000);
              }
            });
    ProgressListener startStorm =
        (s, done, total, pct) -> {
          if (s.equals("Tailor") && !interrupter.isAlive() && storm.get()) interrupter.start();
        };

    DiskException e;
    try {
      e = catchThrowableOfType(() -> engine.build(req, startStorm), DiskException.class);
    } finally {
      storm.set(false);
      while (interrupter.isAlive()) {
        try {
          interrupter.join();
        } catch (InterruptedException lastOfTheStorm) {
          // keep waiting until the interrupter has stopped
        }
      }
      Thread.interrupted();
    }

    assertThat(e).isNotNull();
    assertThat(e.code()).isEqualTo(ErrorCode.Interrupted);
    assertThat(nonImageEntries(root)).as("temporaries left under " + root).isEmpty();
    assertNothingAttachedUnder(root);
    assertThat(engine.inventory().leftovers()).isEmpty();
  }

  @Test
  void progressGoesThroughTheStagesInOrderWithBytesDuringTheCopy() {
    List<String> stages = new CopyOnWriteArrayList<>();
    List<Integer> percents = new CopyOnWriteArrayList<>();
    List<Long> populateBytes = new CopyOnWriteArrayList<>();
    engine(tmp.resolve("progress"), allowed)
        .build(
            request(
                "p",
                spec(
                    "128Mi",
                    Filesystem.ext4,
                    populate(Populate.Method.Offline),
                    new Tailor("p", null, null))),
            (s, done, total, pct) -> {
              if (stages.isEmpty() || !stages.get(stages.size() - 1).equals(s)) stages.add(s);
              percents.add(pct);
              if (s.equals("Populate") && total > 0) populateBytes.add(done);
            });
    assertThat(stages)
        .containsExactly("Create", "Populate", "Tailor", "Format", "Check", "Publish");
    assertThat(percents).isSorted().last().isEqualTo(100);
    assertThat(populateBytes)
        .isSorted()
        .last(org.assertj.core.api.InstanceOfAssertFactories.LONG)
        .isGreaterThanOrEqualTo(48L << 20); // the 48 MiB of files, plus du's directory sizes
  }

  @Test
  void recoverRemovesWhatACrashedBuildLeftMountedAttachedAndHalfWritten() throws Exception {
    Path root = tmp.resolve("crash");
    Path ns = Files.createDirectories(root.resolve("default"));
    // What a killed agent leaves: a temp image loop-mounted on a temp mount point, a staging tree,
    // a half-downloaded archive, and metadata renamed into place whose image never was.
    Path tempImage = ns.resolve(".vm.img.tmp-dead01");
    RUN.run("truncate", "-s", "32M", tempImage.toString());
    RUN.run("mke2fs", "-q", "-t", "ext4", tempImage.toString());
    Path mnt = Files.createDirectories(root.resolve(".tmp-mnt-dead02"));
    Path staging = Files.createDirectories(root.resolve(".tmp-staging-dead03/etc"));
    Files.writeString(staging.resolve("hostname"), "x\n");
    Files.writeString(root.resolve(".tmp-download-dead04"), "partial");
    Files.writeString(ns.resolve("gone.img.json"), "{}");
    Path kept = ns.resolve("kept.img");
    Files.writeString(kept, "an image file with no metadata: an orphan, never deleted by itself");
    RUN.run("mount", "-o", "loop", tempImage.toString(), mnt.toString());
    try {
      DiskEngine engine = engine(root);
      assertThat(engine.inventory().leftovers()).hasSize(5);

      List<Path> cleaned = engine.recover();

      assertThat(cleaned).hasSize(5);
      assertThat(nonImageEntries(root)).isEmpty();
      assertNothingAttachedUnder(root);
      assertThat(kept).exists();
      assertThat(engine.inventory().orphans()).containsExactly(kept);
      assertThat(engine.inventory().leftovers()).isEmpty();
    } finally {
      RUN.exec(List.of("umount", mnt.toString()), Duration.ofMinutes(1), null);
    }
  }
}
