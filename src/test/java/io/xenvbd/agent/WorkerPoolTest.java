package io.xenvbd.agent;

import static org.assertj.core.api.Assertions.assertThat;
import static org.awaitility.Awaitility.await;

import io.xenvbd.api.VirtualDiskSpec;
import io.xenvbd.disk.DiskRequest;
import io.xenvbd.protocol.ErrorBody;
import java.nio.file.Path;
import java.time.Duration;
import java.util.List;
import java.util.Map;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.CopyOnWriteArrayList;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.atomic.AtomicInteger;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Test;

/**
 * The worker pool's rules with work that only waits: who starts when, deadlines, stops. No disks.
 */
class WorkerPoolTest {
  /**
   * Work that runs until released (or interrupted), recording what a user of the pool would see.
   */
  final Map<String, CountDownLatch> release = new ConcurrentHashMap<>();

  final List<String> started = new CopyOnWriteArrayList<>();
  final Map<String, AtomicInteger> runningNow = new ConcurrentHashMap<>();
  final Map<String, Integer> mostAtOnce = new ConcurrentHashMap<>();
  final List<String> interruptedAtStart = new CopyOnWriteArrayList<>();
  WorkerPool pool;

  @AfterEach
  void stop() {
    release.values().forEach(CountDownLatch::countDown);
    if (pool != null) pool.close(Duration.ofSeconds(5));
  }

  void hold(Operation op) {
    String ns = op.namespace();
    int now = runningNow.computeIfAbsent(ns, k -> new AtomicInteger()).incrementAndGet();
    mostAtOnce.merge(ns, now, Math::max);
    started.add(op.disk());
    if (Thread.currentThread().isInterrupted()) interruptedAtStart.add(op.disk());
    try {
      release.computeIfAbsent(op.disk(), k -> new CountDownLatch(1)).await();
      op.succeeded();
    } catch (InterruptedException e) {
      op.failed(new ErrorBody("Interrupted", "interrupted"));
    } finally {
      runningNow.get(ns).decrementAndGet();
    }
  }

  static Operation op(String namespace, String name) {
    VirtualDiskSpec spec =
        new VirtualDiskSpec(
            null, "16Mi", VirtualDiskSpec.Filesystem.none, null, null, null, false, null);
    return new Operation(
        Operation.Kind.build,
        DiskRequest.of(namespace, name, "uid-" + name, spec),
        Path.of("/nowhere"));
  }

  Operation submit(String namespace, String name) {
    Operation op = op(namespace, name);
    pool.submit(op);
    return op;
  }

  void finish(String disk) {
    release.computeIfAbsent(disk, k -> new CountDownLatch(1)).countDown();
  }

  @Test
  void aLoneNamespaceUsesEveryWorkerAnotherStartsAtOnceAndTheNextStartIsTheOldestUnderItsCap() {
    pool = new WorkerPool(3, Duration.ofHours(1), this::hold);
    assertThat(pool.perNamespace()).isEqualTo(2);
    for (int i = 0; i < 12; i++) submit("a", "a-" + i);
    await().atMost(Duration.ofSeconds(10)).until(() -> started.size() == 3);
    assertThat(pool.running()).as("alone, a fleet is not built one at a time").isEqualTo(3);
    assertThat(pool.queued()).isEqualTo(9);

    submit("b", "b-0");
    await().atMost(Duration.ofSeconds(10)).until(() -> started.contains("b/b-0"));
    assertThat(pool.running()).as("the reserve worker: b does not wait behind a").isEqualTo(4);
    submit("b", "b-1");
    assertThat(pool.queued()).isEqualTo(10);

    finish("a/a-0"); // three run (a two, b one): nothing more starts, a is at its cap
    await().atMost(Duration.ofSeconds(10)).until(() -> pool.running() == 3);
    assertThat(started).hasSize(4);
    finish("b/b-0"); // a is at its cap while b waits: b-1 starts although a-3 is older
    await().atMost(Duration.ofSeconds(10)).until(() -> started.size() == 5);
    assertThat(started.get(4)).isEqualTo("b/b-1");
    finish("a/a-1"); // nothing of another namespace waits: a may fill the third worker again
    await().atMost(Duration.ofSeconds(10)).until(() -> started.size() == 6);
    assertThat(started.get(5)).isEqualTo("a/a-3");
    assertThat(pool.running()).isEqualTo(3);
    assertThat(pool.queued()).isEqualTo(8);

    for (int i = 2; i < 12; i++) finish("a/a-" + i);
    finish("b/b-1");
    await().atMost(Duration.ofSeconds(10)).until(() -> pool.running() == 0);
    assertThat(started).hasSize(14);
    assertThat(pool.queued()).isZero();
    assertThat(mostAtOnce).containsEntry("a", 3).containsEntry("b", 1);
  }

  @Test
  void onceTwoNamespacesRunNoMoreThanTheWorkersDoAndQueuedWorkStartsOldestFirstUnderItsCap() {
    pool = new WorkerPool(2, Duration.ofHours(1), this::hold);
    for (int i = 0; i < 4; i++) submit("a", "a-" + i);
    await().atMost(Duration.ofSeconds(10)).until(() -> started.size() == 2);
    submit("b", "b-0");
    submit("b", "b-1");
    await().atMost(Duration.ofSeconds(10)).until(() -> started.contains("b/b-0"));
    submit("c", "c-0");
    assertThat(pool.running()).isEqualTo(3);
    finish("a/a-0"); // a one, b one: two run, as many as the workers; everything else waits
    await().atMost(Duration.ofSeconds(10)).until(() -> pool.running() == 2);
    assertThat(started).hasSize(3);
    finish("a/a-1");
    await().atMost(Duration.ofSeconds(10)).until(() -> started.size() == 4);
    finish("b/b-0");
    await().atMost(Duration.ofSeconds(10)).until(() -> started.size() == 5);
    finish("a/a-2");
    await().atMost(Duration.ofSeconds(10)).until(() -> started.size() == 6);
    finish("b/b-1");
    await().atMost(Duration.ofSeconds(10)).until(() -> started.size() == 7);
    assertThat(pool.running()).isEqualTo(2);
    // a-0 and a-1 start at once, on the two workers: which thread records first is the
    // scheduler's; every later start is one at a time, in the order the rule says
    assertThat(started.subList(0, 2)).containsExactlyInAnyOrder("a/a-0", "a/a-1");
    assertThat(started.subList(2, 7)).containsExactly("b/b-0", "a/a-2", "b/b-1", "a/a-3", "c/c-0");
  }

  @Test
  void withOneWorkerANamespaceMayUseIt() {
    pool = new WorkerPool(1, Duration.ofHours(1), this::hold);
    assertThat(pool.perNamespace()).isEqualTo(1);
    submit("a", "a-0");
    submit("a", "a-1");
    await().atMost(Duration.ofSeconds(10)).until(() -> started.size() == 1);
    finish("a/a-0");
    await().atMost(Duration.ofSeconds(10)).until(() -> started.size() == 2);
    assertThat(started).containsExactly("a/a-0", "a/a-1");
  }

  @Test
  void workForABusyDiskWaitsInTheQueueWhereACancelRemovesIt() {
    pool = new WorkerPool(3, Duration.ofHours(1), this::hold);
    Operation first = submit("a", "x");
    await().atMost(Duration.ofSeconds(10)).until(() -> started.contains("a/x"));
    Operation second = submit("a", "x");
    submit("b", "y");
    await().atMost(Duration.ofSeconds(10)).until(() -> started.contains("b/y"));
    assertThat(pool.queued()).as("a worker is free, but the disk is not").isEqualTo(1);

    pool.cancel(second, Operation.Stop.delete);
    assertThat(pool.queued()).isZero();
    assertThat(second.finished).isDone();
    finish("a/x");
    await()
        .atMost(Duration.ofSeconds(10))
        .until(() -> first.finished.isDone() && pool.running() == 1);
    assertThat(started).containsExactly("a/x", "b/y");
  }

  @Test
  void pastItsDeadlineWorkIsInterruptedUntilItEndsAndTheWorkerStartsTheNextClean() {
    AtomicInteger interrupts = new AtomicInteger();
    pool =
        new WorkerPool(
            1,
            Duration.ofMillis(200),
            op -> {
              if (op.request.name().equals("stubborn")) {
                while (interrupts.get() < 3) { // swallows two interrupts, as some library code does
                  try {
                    Thread.sleep(60_000);
                  } catch (InterruptedException e) {
                    interrupts.incrementAndGet();
                  }
                }
                op.failed(new ErrorBody("Interrupted", "interrupted"));
              } else {
                if (Thread.currentThread().isInterrupted()) interruptedAtStart.add(op.disk());
                started.add(op.disk());
                op.succeeded();
              }
            });
    Operation stubborn = submit("a", "stubborn");
    await().atMost(Duration.ofSeconds(20)).until(() -> stubborn.finished.isDone());
    assertThat(stubborn.stopped()).isEqualTo(Operation.Stop.deadline);
    assertThat(interrupts.get()).isEqualTo(3);

    Operation next = submit("a", "next");
    await().atMost(Duration.ofSeconds(10)).until(() -> next.finished.isDone());
    assertThat(started).containsExactly("a/next");
    assertThat(interruptedAtStart).isEmpty();
    assertThat(next.isFailed()).as("it ended before its deadline").isFalse();
    assertThat(next.stopped()).isEqualTo(Operation.Stop.none);
  }

  @Test
  void closeStopsRunningWorkAndQueuedWorkNeverStarts() {
    pool = new WorkerPool(1, Duration.ofHours(1), this::hold);
    Operation running = submit("a", "a-0");
    Operation queued = submit("b", "b-0");
    await().atMost(Duration.ofSeconds(10)).until(() -> started.size() == 1);
    pool.close(Duration.ofSeconds(10));
    assertThat(running.finished).isDone();
    assertThat(running.stopped()).isEqualTo(Operation.Stop.shutdown);
    assertThat(running.isFailed()).isTrue();
    assertThat(queued.finished).isDone();
    assertThat(started).containsExactly("a/a-0");
    assertThat(pool.running()).isZero();
    assertThat(pool.queued()).isZero();
  }
}
