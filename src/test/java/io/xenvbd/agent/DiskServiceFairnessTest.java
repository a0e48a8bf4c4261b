package io.xenvbd.agent;

import static org.assertj.core.api.Assertions.assertThat;
import static org.awaitility.Awaitility.await;

import io.xenvbd.disk.DiskEngine;
import io.xenvbd.disk.EngineConfig;
import io.xenvbd.disk.UrlPolicy;
import io.xenvbd.protocol.DiskSpec;
import io.xenvbd.protocol.DiskSpec.Filesystem;
import io.xenvbd.protocol.DiskState;
import io.xenvbd.protocol.PutDiskRequest;
import io.xenvbd.testing.Host;
import io.xenvbd.testing.RequiresRoot;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.List;
import java.util.stream.IntStream;
import java.util.stream.Stream;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * Nothing blocks the agent's workers: the disk service with a real engine on a temporary images
 * root, made slow by archives that a loopback server trickles one byte per second.
 */
@RequiresRoot
class DiskServiceFairnessTest {
  static final Duration WAIT = Duration.ofSeconds(60);
  @TempDir Path dir;
  Path root;
  TricklingArchiveServer archives;
  DiskEngine engine;
  DiskService disks;

  @BeforeEach
  void start() throws IOException {
    root = Files.createDirectories(dir.resolve("images"));
    Path tree = Files.createDirectories(dir.resolve("tree/etc"));
    Files.writeString(tree.resolve("hostname"), "guest\n");
    archives = new TricklingArchiveServer(tree.getParent(), dir);
    engine =
        new DiskEngine(
            new EngineConfig(
                root,
                List.of(),
                Duration.ofSeconds(2),
                Duration.ofMinutes(5),
                new UrlPolicy(
                    List.of(archives.url("x").replaceFirst("/x\\.tar$", "/")),
                    List.of("127.0.0.1"))));
  }

  @AfterEach
  void stop() {
    try {
      archives.close(); // downloads still running fail, so the workers end
      if (disks != null) disks.close();
    } finally {
      Host.releaseAll(dir);
    }
  }

  DiskService disks(int workers, Duration deadline) {
    disks = new DiskService(engine, workers, Duration.ofMinutes(5), new Metrics(), deadline);
    return disks;
  }

  /**
   * A tiny ext4 disk whose archive comes from the trickling server: it builds only once released.
   */
  DiskService.PutReply putSlow(String namespace, String name) {
    DiskSpec.Populate populate =
        new DiskSpec.Populate(
            null, new DiskSpec.Archive(archives.url(name), null), null, null, null);
    return disks.put(
        namespace,
        name,
        new PutDiskRequest(
            "uid-" + name,
            new DiskSpec(null, "16Mi", Filesystem.ext4, populate, null, null, false, null)));
  }

  DiskState state(String namespace, String name) {
    return disks.get(namespace, name).orElseThrow();
  }

  DiskState awaitPhase(String namespace, String name, DiskState.Phase phase) {
    return await()
        .atMost(WAIT)
        .pollInterval(Duration.ofMillis(50))
        .until(() -> state(namespace, name), s -> s.phase() == phase);
  }

  long startedIn(String namespace, int count, String prefix) {
    return IntStream.range(0, count)
        .mapToObj(i -> state(namespace, prefix + i))
        .filter(s -> !s.queued())
        .count();
  }

  /**
   * What is under the images root besides namespace directories, published images and their
   * metadata.
   */
  List<String> leftovers() throws IOException {
    try (Stream<Path> walk = Files.walk(root)) {
      return walk.filter(p -> !p.equals(root))
          .filter(
              p ->
                  !(Files.isDirectory(p)
                      && p.getParent().equals(root)
                      && !p.getFileName().toString().startsWith(".")))
          .map(p -> root.relativize(p).toString())
          .filter(s -> !s.endsWith(".img") && !s.endsWith(".img.json") && !s.equals(".xenvbd.lock"))
          .toList();
    }
  }

  @Test
  void aLoneNamespaceBuildsOnEveryWorkerAndASecondStartsAtOnceWhileTheFirstHasNineQueued()
      throws Exception {
    disks(3, DiskService.DEFAULT_DEADLINE);
    for (int i = 0; i < 12; i++) assertThat(putSlow("team-a", "a-" + i).started()).isTrue();
    await().atMost(WAIT).until(() -> archives.requested.size() == 3);
    assertThat(disks.running()).isEqualTo(3);
    assertThat(disks.queued()).isEqualTo(9);
    assertThat(startedIn("team-a", 12, "a-")).isEqualTo(3);
    assertThat(archives.requested).containsExactlyInAnyOrder("a-0", "a-1", "a-2");

    putSlow("team-b", "b-0");
    await().atMost(WAIT).until(() -> archives.requested.contains("b-0"));
    assertThat(state("team-b", "b-0").queued()).isFalse();
    assertThat(disks.running()).isEqualTo(4);
    assertThat(disks.queued()).isEqualTo(9);

    archives.release("b-0");
    DiskState ready = awaitPhase("team-b", "b-0", DiskState.Phase.Ready);
    assertThat(Path.of(ready.path())).isRegularFile();
    await().atMost(WAIT).until(() -> disks.running() == 3);
    Thread.sleep(
        1000); // a build of team-a wrongly given the reserve worker would have asked for its
    // archive by now
    assertThat(archives.requested).containsExactlyInAnyOrder("a-0", "a-1", "a-2", "b-0");
    assertThat(disks.queued()).isEqualTo(9);

    archives.release("a-0");
    awaitPhase("team-a", "a-0", DiskState.Phase.Ready);
    await().atMost(WAIT).until(() -> archives.requested.contains("a-3"));
    assertThat(archives.requested).doesNotContain("a-4");
    assertThat(startedIn("team-a", 12, "a-")).as("a-0 done, a-1 to a-3 running").isEqualTo(4);
    assertThat(disks.running()).isEqualTo(3);
    assertThat(disks.queued()).isEqualTo(8);
  }

  @Test
  void aBuildPastItsDeadlineIsStoppedFailsWithDeadlineExceededAndLeavesNothing() throws Exception {
    disks(1, Duration.ofSeconds(3));
    putSlow("team-a", "slow");
    DiskState failed = awaitPhase("team-a", "slow", DiskState.Phase.Failed);
    assertThat(failed.error().code()).isEqualTo("DeadlineExceeded");
    assertThat(failed.error().message())
        .startsWith("the build of team-a/slow ran longer than its deadline of 3s and was stopped");
    await().atMost(WAIT).until(() -> archives.abandoned.contains("slow"));
    assertThat(engine.inspect("team-a", "slow")).isEmpty();
    assertThat(leftovers()).isEmpty();

    assertThat(
            disks
                .put(
                    "team-a",
                    "next",
                    new PutDiskRequest(
                        "uid-next",
                        new DiskSpec(null, "16Mi", Filesystem.none, null, null, null, false, null)))
                .started())
        .isTrue();
    awaitPhase("team-a", "next", DiskState.Phase.Ready);
    assertThat(disks.running()).isZero();
  }

  @Test
  void aDeleteStopsABuildStuckInASlowDownloadAndNothingIsPublished() throws Exception {
    disks(2, DiskService.DEFAULT_DEADLINE);
    putSlow("team-a", "stuck");
    await().atMost(WAIT).until(() -> archives.requested.contains("stuck"));
    Thread.sleep(1500); // a few bytes into the download

    disks.delete(
        "team-a",
        "stuck",
        "uid-stuck"); // answers 409 ImageInUse if the build does not stop within 60 s
    assertThat(disks.get("team-a", "stuck")).isEmpty();
    assertThat(engine.inspect("team-a", "stuck")).isEmpty();
    assertThat(leftovers()).isEmpty();
    // the operation has ended when delete returns; its worker hands it back to the pool a moment
    // later
    await("the worker is free again").atMost(WAIT).until(() -> disks.running() == 0);
    await("the node stops downloading")
        .atMost(WAIT)
        .until(() -> archives.abandoned.contains("stuck"));
  }

  @Test
  void aDeleteRemovesABuildQueuedBehindItsNamespaceCapSoItNeverStarts() throws Exception {
    disks(2, DiskService.DEFAULT_DEADLINE);
    putSlow("team-a", "first");
    putSlow("team-a", "second");
    await().atMost(WAIT).until(() -> archives.requested.size() == 2);
    putSlow("team-a", "third");
    assertThat(state("team-a", "third").queued()).isTrue();
    assertThat(disks.running()).as("alone, the namespace has both workers, no more").isEqualTo(2);
    assertThat(disks.queued()).isEqualTo(1);

    disks.delete("team-a", "third", "uid-third");
    assertThat(disks.get("team-a", "third")).isEmpty();
    assertThat(disks.queued()).isZero();

    archives.release("first");
    archives.release("second");
    awaitPhase("team-a", "first", DiskState.Phase.Ready);
    awaitPhase("team-a", "second", DiskState.Phase.Ready);
    await().atMost(WAIT).until(() -> disks.running() == 0);
    Thread.sleep(
        1000); // a deleted build wrongly left in the queue would have asked for its archive by now
    assertThat(archives.requested).containsExactlyInAnyOrder("first", "second");
    assertThat(engine.inspect("team-a", "third")).isEmpty();
    assertThat(disks.queued()).isZero();
    assertThat(leftovers()).isEmpty();
  }

  @Test
  void aGetThatWaitsAnswersWhenTheRunningBuildEndsAndAQueuedOneAnswersAtOnce() throws Exception {
    disks(1, DiskService.DEFAULT_DEADLINE);
    putSlow("team-a", "first");
    await().atMost(WAIT).until(() -> archives.requested.contains("first"));
    putSlow("team-a", "second");

    long t0 = System.nanoTime();
    DiskState queued = disks.get("team-a", "second", Duration.ofSeconds(2)).orElseThrow();
    assertThat(queued.queued()).isTrue();
    assertThat(Duration.ofNanos(System.nanoTime() - t0)).isLessThan(Duration.ofMillis(1500));

    t0 = System.nanoTime();
    DiskState still = disks.get("team-a", "first", Duration.ofMillis(300)).orElseThrow();
    assertThat(still.phase()).isEqualTo(DiskState.Phase.Building);
    assertThat(Duration.ofNanos(System.nanoTime() - t0))
        .isGreaterThanOrEqualTo(Duration.ofMillis(300));

    var callers = java.util.concurrent.Executors.newFixedThreadPool(DiskService.MAX_WAITING_GETS);
    var answer =
        java.util.concurrent.CompletableFuture.supplyAsync(
            () -> disks.get("team-a", "first", Duration.ofSeconds(2)).orElseThrow(), callers);
    Thread.sleep(200);
    assertThat(answer).isNotDone();
    List<java.util.concurrent.CompletableFuture<DiskState>> held = new java.util.ArrayList<>();
    for (int i = 1; i < DiskService.MAX_WAITING_GETS; i++)
      held.add(
          java.util.concurrent.CompletableFuture.supplyAsync(
              () -> disks.get("team-a", "first", Duration.ofSeconds(2)).orElseThrow(), callers));
    Thread.sleep(300); // the held GETs are waiting now
    assertThat(held).noneMatch(java.util.concurrent.CompletableFuture::isDone);
    t0 = System.nanoTime();
    DiskState beyond = disks.get("team-a", "first", Duration.ofSeconds(2)).orElseThrow();
    assertThat(beyond.phase()).isEqualTo(DiskState.Phase.Building);
    assertThat(Duration.ofNanos(System.nanoTime() - t0))
        .as("more waiting GETs than half the API threads: answered at once")
        .isLessThan(Duration.ofMillis(1500));

    archives.release("first");
    DiskState ended = answer.get(30, java.util.concurrent.TimeUnit.SECONDS);
    assertThat(ended.phase()).isEqualTo(DiskState.Phase.Ready);
    assertThat(Path.of(ended.path())).isRegularFile();
    archives.release("second");
    awaitPhase("team-a", "second", DiskState.Phase.Ready);
    callers.shutdown();
  }
}
