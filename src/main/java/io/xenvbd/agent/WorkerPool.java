package io.xenvbd.agent;

import java.time.Duration;
import java.time.Instant;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.HashSet;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.Executors;
import java.util.concurrent.ScheduledExecutorService;
import java.util.concurrent.TimeUnit;
import java.util.function.Consumer;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * The workers that run disk operations, and the rules that keep any one tenant from blocking them:
 *
 * <ul>
 *   <li><b>Another namespace always finds a worker at once.</b> With N workers, a namespace runs at
 *       most max(1, N-1) operations while an operation of another namespace waits. A namespace that
 *       is alone (nothing of any other namespace queued) may use all N, so a fleet of one tenant is
 *       not built one at a time; if another namespace's operation arrives while that one holds all
 *       N, it starts at once on one reserve worker (from two workers up), and the busy namespace
 *       starts nothing more until it is back under its cap. So at most N operations run, N+1 only
 *       in that case, and never two namespaces wait behind one.
 *   <li><b>Queued work is taken fairly.</b> A free worker starts the oldest queued operation whose
 *       namespace is under its cap and whose disk has no operation running; everything else keeps
 *       its place. A worker so never waits for a disk's lock: such work waits in the queue, where a
 *       delete removes it.
 *   <li><b>Every operation has a deadline</b>, counted from its start. Past it the operation is
 *       stopped the way a delete stops it: its worker is interrupted (the engine kills its commands
 *       and removes its temporaries; work in {@code io.xenvbd.disk.Uninterruptible}, such as
 *       resize2fs rewriting a filesystem in place, finishes first), and the interrupt is repeated
 *       until it ends, in case a step swallowed it.
 * </ul>
 *
 * {@link #running()} and {@link #queued()} are exact: operations started and not ended, and
 * operations waiting.
 */
final class WorkerPool implements AutoCloseable {
  private static final Logger LOG = LoggerFactory.getLogger(WorkerPool.class);
  private static final Duration STUCK_WARNING = Duration.ofSeconds(30);

  private final int workers;
  private final int perNamespace;
  private final Duration deadline;
  private final Consumer<Operation> work;
  private final List<Thread> threads = new ArrayList<>();
  private final ScheduledExecutorService sweeper;
  private final List<Operation> waiting = new ArrayList<>(); // oldest first; guarded by this
  private final Set<Operation> running = new HashSet<>(); // guarded by this
  private final Map<String, Integer> runningPerNamespace = new HashMap<>(); // guarded by this
  private final Set<String> busyDisks = new HashSet<>(); // guarded by this
  private final Set<Operation> warnedStuck = ConcurrentHashMap.newKeySet();
  private boolean closed; // guarded by this

  /** {@code work} runs one operation to its end and records how it ended; it should not throw. */
  WorkerPool(int workers, Duration deadline, Consumer<Operation> work) {
    if (workers < 1)
      throw new IllegalArgumentException("at least one worker is needed, not " + workers);
    if (deadline.isNegative() || deadline.isZero())
      throw new IllegalArgumentException("the deadline must be positive, not " + deadline);
    this.workers = workers;
    this.perNamespace = Math.max(1, workers - 1);
    this.deadline = deadline;
    this.work = work;
    this.sweeper =
        Executors.newSingleThreadScheduledExecutor(
            r -> {
              Thread t = new Thread(r, "xenvbd-deadlines");
              t.setDaemon(true);
              return t;
            });
    long tick = Math.max(10, Math.min(1000, deadline.toMillis() / 4));
    sweeper.scheduleWithFixedDelay(this::sweep, tick, tick, TimeUnit.MILLISECONDS);
    int threadsToStart = workers == 1 ? 1 : workers + 1; // the reserve worker, see take()
    for (int i = 1; i <= threadsToStart; i++) {
      Thread t = new Thread(this::workLoop, "xenvbd-worker-" + i);
      t.setDaemon(true);
      threads.add(t);
    }
    threads.forEach(Thread::start);
  }

  /** How many operations of one namespace may run at once while another namespace waits. */
  int perNamespace() {
    return perNamespace;
  }

  Duration deadline() {
    return deadline;
  }

  synchronized void submit(Operation op) {
    if (closed) throw new IllegalStateException("the worker pool is closed");
    waiting.add(op);
    notifyAll();
  }

  /**
   * Stops an operation: a queued one leaves the queue and never starts, a running one is
   * interrupted.
   */
  void cancel(Operation op, Operation.Stop why) {
    synchronized (this) {
      waiting.remove(op);
    }
    op.stop(why);
  }

  synchronized int running() {
    return running.size();
  }

  synchronized int queued() {
    return waiting.size();
  }

  private void workLoop() {
    while (true) {
      Operation op = take();
      if (op == null) return;
      try {
        if (op.begin(Thread.currentThread())) {
          try {
            work.accept(op);
          } finally {
            op.end();
          }
        }
      } catch (RuntimeException | Error e) {
        LOG.error("{} of {} escaped its error handling", op.kind, op.disk(), e);
      } finally {
        done(op);
        Thread.interrupted(); // a stop that came late must not reach the next operation
      }
    }
  }

  /**
   * Blocks until an operation may start (null once closed): the oldest whose namespace and disk
   * allow it.
   */
  private synchronized Operation take() {
    while (!closed) {
      for (Operation op : waiting) {
        if (mayStart(op)) {
          waiting.remove(op);
          running.add(op);
          runningPerNamespace.merge(op.namespace(), 1, Integer::sum);
          busyDisks.add(op.disk());
          return op;
        }
      }
      try {
        wait();
      } catch (InterruptedException e) {
        return null; // nobody but close() has a reason to interrupt an idle worker
      }
    }
    return null;
  }

  /**
   * Under N running: while another namespace has work that could start, the cap; alone, all N. At N
   * running: only the reserve, for a namespace with nothing running while one namespace holds all N
   * (it took them alone). Guarded by this.
   */
  private boolean mayStart(Operation op) {
    if (busyDisks.contains(op.disk())) return false;
    int mine = runningPerNamespace.getOrDefault(op.namespace(), 0);
    if (running.size() < workers)
      return mine < (othersWaiting(op.namespace()) ? perNamespace : workers);
    return workers > 1
        && running.size() == workers
        && mine == 0
        && runningPerNamespace.containsValue(workers);
  }

  /** Whether an operation of another namespace is queued and its disk free. Guarded by this. */
  private boolean othersWaiting(String namespace) {
    for (Operation other : waiting)
      if (!other.namespace().equals(namespace) && !busyDisks.contains(other.disk())) return true;
    return false;
  }

  private synchronized void done(Operation op) {
    running.remove(op);
    runningPerNamespace.computeIfPresent(op.namespace(), (k, n) -> n <= 1 ? null : n - 1);
    busyDisks.remove(op.disk());
    warnedStuck.remove(op);
    notifyAll();
  }

  private void sweep() {
    try {
      Instant now = Instant.now();
      List<Operation> current;
      synchronized (this) {
        current = List.copyOf(running);
      }
      for (Operation op : current) {
        Instant started = op.startedAt();
        if (started != null
            && op.stopped() == Operation.Stop.none
            && started.plus(deadline).isBefore(now)) {
          LOG.warn(
              "{} of {} passed its deadline of {} in stage {}: stopping it",
              op.kind,
              op.disk(),
              human(deadline),
              op.stage());
          op.stop(Operation.Stop.deadline);
        }
        op.interruptAgain();
        Instant stopped = op.stoppedAt();
        if (stopped != null && stopped.plus(STUCK_WARNING).isBefore(now) && warnedStuck.add(op)) {
          LOG.warn(
              "{} of {} still runs {} after it was stopped ({}) in stage {}: a step there does not answer interrupts",
              op.kind,
              op.disk(),
              human(STUCK_WARNING),
              op.stopped(),
              op.stage());
        }
      }
    } catch (RuntimeException e) {
      LOG.error(
          "the deadline sweep failed",
          e); // never let it throw: the executor would drop the schedule
    }
  }

  /**
   * Stops taking work, stops every operation (queued ones never start) and waits up to {@code wait}
   * for the workers.
   */
  void close(Duration wait) {
    List<Operation> stopping;
    synchronized (this) {
      closed = true;
      stopping = new ArrayList<>(waiting);
      stopping.addAll(running);
      waiting.clear();
      notifyAll();
    }
    stopping.forEach(op -> op.stop(Operation.Stop.shutdown));
    long until = System.nanoTime() + wait.toNanos();
    try {
      for (Thread t : threads) {
        t.join(Math.max(1, (until - System.nanoTime()) / 1_000_000));
        if (t.isAlive()) {
          LOG.warn("disk operations still running after {}", human(wait));
          break;
        }
      }
    } catch (InterruptedException e) {
      Thread.currentThread().interrupt();
    } finally {
      sweeper.shutdownNow();
    }
  }

  @Override
  public void close() {
    close(Duration.ofSeconds(30));
  }

  /** 2h, 90m, 45s, 1500ms: how a person writes a deadline. */
  static String human(Duration d) {
    if (d.toMillis() % 1000 != 0) return d.toMillis() + "ms";
    long s = d.toSeconds();
    if (s % 3600 == 0) return s / 3600 + "h";
    if (s % 60 == 0) return s / 60 + "m";
    return s + "s";
  }
}
