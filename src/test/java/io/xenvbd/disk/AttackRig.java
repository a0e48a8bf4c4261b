package io.xenvbd.disk;

import static io.xenvbd.disk.DiskTestSupport.assertNothingAttachedUnder;
import static io.xenvbd.disk.DiskTestSupport.nonImageEntries;
import static io.xenvbd.disk.DiskTestSupport.request;
import static io.xenvbd.disk.DiskTestSupport.spec;
import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.fail;

import io.xenvbd.api.Populate;
import io.xenvbd.api.Tailor;
import io.xenvbd.api.VirtualDiskSpec.Filesystem;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.List;
import java.util.concurrent.ExecutionException;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.Future;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.TimeoutException;
import java.util.function.Consumer;

/**
 * One attack's setting: an images root and an allowed source directory in the test's temp dir, the
 * canaries in a temp dir of their own, and a bounded build through the public engine API whose
 * outcome (built, refused, or hung) is checked against the canaries before anything else.
 */
final class AttackRig {
  /**
   * A build of these tiny images takes seconds; one that takes this long is stuck on what it
   * opened.
   */
  static final Duration BOUND = Duration.ofSeconds(60);

  /**
   * The three ways a tree gets written: a staging directory, or the loop-mounted image (ext4, xfs).
   */
  enum Mode {
    EXT4_OFFLINE(Filesystem.ext4, Populate.Method.Offline, "32Mi"),
    EXT4_LOOPMOUNT(Filesystem.ext4, Populate.Method.LoopMount, "32Mi"),
    XFS_LOOPMOUNT(Filesystem.xfs, Populate.Method.LoopMount, "320Mi");

    final Filesystem fs;
    final Populate.Method method;
    final String size;

    Mode(Filesystem fs, Populate.Method method, String size) {
      this.fs = fs;
      this.method = method;
      this.size = size;
    }
  }

  /** What a build did: published an image, or refused with a DiskException. */
  record Outcome(ImageInfo image, DiskException error) {
    ImageInfo built() {
      if (error != null)
        throw new AssertionError(
            "expected the build to succeed, it failed: " + error.code() + ": " + error.getMessage(),
            error);
      return image;
    }

    DiskException refused() {
      assertThat(image).as("expected the build to be refused, it published " + image).isNull();
      return error;
    }

    void ifBuilt(Consumer<ImageInfo> check) {
      if (image != null) check.accept(image);
    }
  }

  final Path tmp;
  final Path root;
  final Path allowed;
  final Path scratch;
  final Path victimHome;
  final Canaries canaries;
  private final ExecutorService builds = Executors.newCachedThreadPool();

  private AttackRig(Path tmp, Path victimHome, Canaries canaries) throws IOException {
    this.tmp = tmp;
    this.root =
        tmp.resolve("images"); // not created: the engine creates it, with the mode it chooses
    this.allowed = Files.createDirectories(tmp.resolve("allowed"));
    this.scratch = Files.createDirectories(tmp.resolve("scratch"));
    this.victimHome = victimHome;
    this.canaries = canaries;
  }

  static AttackRig open(Path tmp, Path victimHome) throws IOException {
    return new AttackRig(tmp, victimHome, Canaries.create(victimHome));
  }

  static Populate populate(
      Mode m, Path archive, List<Populate.HostPath> hostPaths, List<String> createDirs) {
    return new Populate(
        hostPaths,
        archive == null ? null : new Populate.Archive(archive.toString(), null),
        null,
        createDirs,
        m.method);
  }

  /**
   * Builds as the attack, bounded, then checks the canaries first: what reached dom0 is the
   * headline. A build stuck on something it opened fails the test, and its FIFOs are read so that
   * it can finish and release its mount and loop device before the canaries are read. A refusal
   * must be a DiskException that leaves nothing published and nothing half-built.
   */
  Outcome build(Mode m, String name, Populate p, Tailor t, ProgressListener progress) {
    canaries.arm();
    Outcome first = attempt(m, name, p, t, progress);
    if (first.error == null || first.error.code() != ErrorCode.LoopDevicesExhausted) return first;
    // Other engineers' tests share the eight loop devices: once more, else the attack never ran.
    Outcome again = attempt(m, name, p, t, progress);
    if (again.error != null && again.error.code() == ErrorCode.LoopDevicesExhausted) {
      return fail("no free loop device, so the attack did not run: " + again.error.getMessage());
    }
    return again;
  }

  /** An engine on the root that waits for a loop device longer than the tests' usual 2 s. */
  DiskEngine engine() {
    return new DiskEngine(
        new EngineConfig(root, List.of(allowed), Duration.ofSeconds(20), Duration.ofMinutes(5)));
  }

  private Outcome attempt(Mode m, String name, Populate p, Tailor t, ProgressListener progress) {
    Future<ImageInfo> f =
        builds.submit(() -> engine().build(request(name, spec(m.size, m.fs, p, t)), progress));
    Outcome outcome;
    String hung = null;
    try {
      outcome = outcome(f);
    } catch (TimeoutException e) {
      List<Path> fifos = HostileInputs.unblockFifos(root);
      String after;
      try {
        Outcome late = outcome(f);
        after = late.error == null ? "it then built" : "it then failed: " + late.error.getMessage();
      } catch (TimeoutException te) {
        f.cancel(true);
        after = "it still did not finish";
      }
      hung =
          "the build did not finish within "
              + BOUND.toSeconds()
              + " s; after reading the FIFOs "
              + fifos
              + " "
              + after;
      outcome = null;
    }
    canaries.verify(
        hung != null
            ? "after a build that hung"
            : outcome.error == null
                ? "after a successful build"
                : "after a build that failed with "
                    + outcome.error.code()
                    + ": "
                    + outcome.error.getMessage());
    if (hung != null) return fail(hung);
    if (outcome.error != null && outcome.error.code() != ErrorCode.LoopDevicesExhausted) {
      String why = outcome.error.getMessage();
      assertThat(root.resolve("default/" + name + ".img"))
          .as("nothing published after: " + why)
          .doesNotExist();
      assertThat(nonImageEntries(root)).as("nothing left after: " + why).isEmpty();
    }
    return outcome;
  }

  private static Outcome outcome(Future<ImageInfo> f) throws TimeoutException {
    try {
      return new Outcome(f.get(BOUND.toSeconds(), TimeUnit.SECONDS), null);
    } catch (ExecutionException e) {
      if (e.getCause() instanceof DiskException de) return new Outcome(null, de);
      throw new AssertionError(
          "the build failed with " + e.getCause() + " instead of a DiskException", e.getCause());
    } catch (InterruptedException e) {
      Thread.currentThread().interrupt();
      throw new AssertionError(e);
    }
  }

  /**
   * The canaries once more, the canary device detached, and no loop device or mount left under the
   * temp dirs.
   */
  void close() throws Throwable {
    Throwable failure = null;
    try {
      canaries.verify("at the end of the test");
    } catch (Throwable t) {
      failure = t;
    }
    canaries.close();
    builds.shutdownNow();
    try {
      assertNothingAttachedUnder(tmp);
      assertNothingAttachedUnder(victimHome);
    } catch (Throwable t) {
      if (failure == null) failure = t;
      else failure.addSuppressed(t);
    }
    if (failure != null) throw failure;
  }
}
