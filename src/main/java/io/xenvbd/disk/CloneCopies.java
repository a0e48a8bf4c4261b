package io.xenvbd.disk;

import java.nio.file.Path;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.HashSet;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.concurrent.atomic.AtomicBoolean;
import java.util.concurrent.locks.Condition;
import java.util.concurrent.locks.ReentrantLock;
import java.util.function.BiFunction;
import java.util.function.Consumer;
import java.util.function.Function;

/**
 * This agent's own copies of each clone source while they run, and the check before each copy that
 * no other process holds the source (a guest on the qdisk or tap backend holds no loop device, only
 * the open file). Two clones of one template may copy it at once: the agent's own copies only read
 * it.
 *
 * <p>Which holder is the agent's own is told by its pid, recorded when the copy starts, never by
 * what /proc shows of it: a copy that is exiting has no command line left (its memory is gone, its
 * descriptors not yet), and a process just started may not have become cp yet. The record is
 * race-free because a copy is started and recorded under the same lock that a scan takes to read
 * the records: a scan sees every copy that can hold the source then. A pid leaves the record only
 * once its process has been reaped (it holds nothing any more), also when the wait for it was cut
 * short and it outlived its kill.
 *
 * <p>One scan of /proc serves every clone of that source that was waiting when it began (a scan
 * that begins after a clone asked is as good for it as its own): 50 clones of one template at once
 * scan a few times, not 50.
 */
final class CloneCopies {
  /** What is known of one source. */
  private static final class Source {
    // a list, not a set: a pid reused by a new copy while the old one's exit is still to be told
    final List<Long> copies = new ArrayList<>();
    int streams; // this agent's streams of the source to another node (TransferSource), open now
    int inAgent; // copies that this agent's own process makes now (ExtentCopy)
    int users; // threads inside copy() for this source
    Change changing; // what this agent does to the source now, or null
    boolean scanning;
    long scansBegun;
    long scansDone;
    List<String> holders = List.of(); // what the last finished scan found
  }

  /** A change in place of a source, and what a clone refused meanwhile is told. */
  enum Change {
    GROW("grow", "grown", "the clone is retried once that is done"),
    DELETE(
        "delete",
        "deleted",
        "clone a VirtualDisk that is kept (this clone is retried, and fails if the delete goes"
            + " through)");

    final String verb;
    final String participle;
    final String toClone;

    Change(String verb, String participle, String toClone) {
      this.verb = verb;
      this.participle = participle;
      this.toClone = toClone;
    }
  }

  /** A registration (a stream, a change in place) that lasts until closed. */
  interface Held extends AutoCloseable {
    @Override
    void close();
  }

  private final ReentrantLock lock = new ReentrantLock();
  private final Condition changed = lock.newCondition();
  private final Map<Path, Source> sources = new HashMap<>();
  private final BiFunction<Path, Set<Long>, List<String>> scan;

  CloneCopies() {
    this(Holders::of);
  }

  /** {@code scan}: the holders of a file but the given pids (tests count its calls). */
  CloneCopies(BiFunction<Path, Set<Long>, List<String>> scan) {
    this.scan = scan;
  }

  /**
   * Runs {@code copy} (which must start its one process through the {@code Consumer<Process>} it is
   * given, on this thread, and wait for it: {@link CommandRunner#execTold}) once no process but
   * this agent's copies holds {@code source}; else ImageInUse naming the holders.
   */
  <T> T copy(Path source, Function<Consumer<Process>, T> copy) {
    return copy(source, false, copy);
  }

  /**
   * As {@link #copy(Path, Function)}, for a copy that this agent's own process makes (it reads the
   * source in this JVM, {@link ExtentCopy}) with the help of one process (its extent report): while
   * it runs, the agent's own process is no holder either for the checks of other clones and streams
   * of the source. Until that process is told, the lock of the scans is held: the copy starts it
   * first.
   */
  <T> T copyInAgent(Path source, Function<Consumer<Process>, T> copy) {
    return copy(source, true, copy);
  }

  private <T> T copy(Path source, boolean inAgent, Function<Consumer<Process>, T> copy) {
    Path key = source.toAbsolutePath().normalize();
    lock.lock();
    try {
      Source s = admitted(key);
      if (inAgent)
        s.inAgent++; // under the lock of the scan: a scan begun later leaves the agent out
      Process process = null;
      try {
        // The lock is held until the process exists and is recorded: no scan can look meanwhile.
        Process[] started = new Process[1];
        try {
          return copy.apply(
              p -> {
                started[0] = p;
                s.copies.add(p.pid());
                lock.unlock();
              });
        } finally {
          process = started[0];
          if (!lock.isHeldByCurrentThread()) lock.lock();
        }
      } finally {
        if (process != null) {
          // Mostly reaped by now. Not when the wait for it was cut short (a timeout or an interrupt
          // kills it, but a process in uninterruptible sleep outlives the kill): it still reads
          // the source, so it stays recorded, and a grow or delete refused, until it is gone.
          long pid = process.pid();
          if (process.isAlive()) process.onExit().thenRun(() -> reaped(key, s, pid));
          else s.copies.remove(Long.valueOf(pid));
        }
        if (inAgent) s.inAgent--;
        left(key, s);
      }
    } finally {
      lock.unlock();
    }
  }

  /**
   * The source's record, with this thread counted among its users, once a scan that began after
   * this call found no holder but this agent's own copies (lock held); else ImageInUse.
   */
  private Source admitted(Path key) {
    Source s = sources.computeIfAbsent(key, k -> new Source());
    if (s.changing != null) throw changingNow(key, s);
    s.users++;
    try {
      List<String> holders = scanned(key, s);
      if (!holders.isEmpty()) throw inUse(key, holders);
      return s;
    } catch (RuntimeException e) {
      left(key, s);
      throw e;
    }
  }

  /** A thread that was inside a copy of the source has left it (lock held). */
  private void left(Path key, Source s) {
    s.users--;
    forgetIfIdle(key, s);
    changed.signalAll();
  }

  /** A copy's process outlived its wait and has now been reaped: it holds the source no more. */
  private void reaped(Path key, Source s, long pid) {
    lock.lock();
    try {
      s.copies.remove(Long.valueOf(pid));
      forgetIfIdle(key, s);
      changed.signalAll();
    } finally {
      lock.unlock();
    }
  }

  /**
   * The holders found by a scan that began after this call and while no copy was starting (the lock
   * is held when this returns, and no scan runs).
   */
  private List<String> scanned(Path key, Source s) {
    long need = s.scansBegun + 1;
    while (s.scansDone < need || s.scanning) {
      if (s.scanning) {
        try {
          changed.await();
        } catch (InterruptedException e) {
          Thread.currentThread().interrupt();
          throw new DiskException(
              ErrorCode.Interrupted, "interrupted while checking who holds " + key, e);
        }
        continue;
      }
      s.scanning = true;
      long index = ++s.scansBegun;
      Set<Long> own = own(s);
      List<String> found = null;
      lock.unlock();
      try {
        found = scan.apply(key, own);
      } finally {
        lock.lock();
        s.scanning = false;
        if (found != null) {
          s.holders = List.copyOf(found);
          s.scansDone = index;
        }
        changed.signalAll();
      }
    }
    return s.holders;
  }

  /**
   * The processes that hold {@code source} as this agent's own readers: its copies, and the agent
   * itself while it streams the source to another node or copies it for a clone (both read it in
   * this JVM).
   */
  private static Set<Long> own(Source s) {
    return own(s, true);
  }

  /**
   * This agent's copies of the source, and this agent itself while it copies the source in this JVM
   * or, with {@code streamsToo}, streams it.
   */
  private static Set<Long> own(Source s, boolean streamsToo) {
    Set<Long> own = new HashSet<>(s.copies);
    if (s.inAgent > 0 || (streamsToo && s.streams > 0)) own.add(SELF);
    return Set.copyOf(own);
  }

  private static final long SELF = ProcessHandle.current().pid();

  /**
   * This agent streams {@code source} to another node until the returned handle is closed: the
   * agent's own process, which reads it a window at a time, is then no holder for a clone's check
   * (both only read the source; the stream's checks leave out the copies, {@link #othersHolding}).
   * Opened before the stream first reads the source.
   */
  Held streaming(Path source) {
    Path key = source.toAbsolutePath().normalize();
    lock.lock();
    try {
      sources.computeIfAbsent(key, k -> new Source()).streams++;
    } finally {
      lock.unlock();
    }
    return undoing(key, s -> s.streams--);
  }

  /**
   * The holders of {@code source} but this agent's copies of it now (their processes, and this
   * agent's own while it copies the source in this JVM): a stream's check, which runs between its
   * windows, when the stream itself has the source closed (so the agent's own process still counts:
   * nothing else of it reads a published image). A copy that starts right after is seen as a
   * holder, which refuses the stream, never the reverse.
   */
  List<String> othersHolding(Path source) {
    Path key = source.toAbsolutePath().normalize();
    Set<Long> own;
    lock.lock();
    try {
      Source s = sources.get(key);
      // the stream itself has the source closed now: this agent counts unless a clone's copy in
      // this JVM reads it
      own = s == null ? Set.of() : own(s, false);
    } finally {
      lock.unlock();
    }
    return scan.apply(key, own);
  }

  /**
   * This agent changes {@code image} in place ({@code change}: a grow or a delete) until the
   * returned handle is closed: refused (ImageInUse) while any copy of it for a clone runs or waits
   * for its check, and, while held, every new copy of it is refused. A grow of a template thus
   * never overlaps a clone's copy of it, which would copy a filesystem half grown: the holder scans
   * alone leave a window between a scan and the process it clears opening the file.
   */
  Held changing(Path image, Change change) {
    Path key = image.toAbsolutePath().normalize();
    lock.lock();
    try {
      Source s = sources.computeIfAbsent(key, k -> new Source());
      if (s.users > 0 || !s.copies.isEmpty()) {
        throw new DiskException(
            ErrorCode.ImageInUse,
            "cannot "
                + change.verb
                + " "
                + key
                + " now: this agent is copying it for "
                + Math.max(s.users, s.copies.size())
                + " clone(s); it is retried once they are done");
      }
      if (s.changing != null) {
        throw new DiskException(
            ErrorCode.ImageInUse,
            "cannot "
                + change.verb
                + " "
                + key
                + " now: it is being "
                + s.changing.participle
                + "; the "
                + change.verb
                + " is retried once that is done");
      }
      s.changing = change;
    } finally {
      lock.unlock();
    }
    return undoing(key, s -> s.changing = null);
  }

  /**
   * A handle whose first close applies {@code undo} to the source's record (under the lock) and
   * drops the record once nothing uses it; later closes do nothing.
   */
  private Held undoing(Path key, Consumer<Source> undo) {
    AtomicBoolean closed = new AtomicBoolean();
    return () -> {
      if (closed.getAndSet(true)) return;
      lock.lock();
      try {
        Source s = sources.get(key);
        if (s != null) {
          undo.accept(s);
          forgetIfIdle(key, s);
        }
      } finally {
        lock.unlock();
      }
    };
  }

  /** Drops the record of a source nothing of this agent reads or changes (lock held). */
  private void forgetIfIdle(Path key, Source s) {
    if (s.users == 0
        && s.copies.isEmpty()
        && !s.scanning
        && s.streams == 0
        && s.inAgent == 0
        && s.changing == null) sources.remove(key, s);
  }

  private static DiskException changingNow(Path key, Source s) {
    return new DiskException(
        ErrorCode.ImageInUse,
        "cannot clone "
            + key
            + " now: it is being "
            + s.changing.participle
            + "; "
            + s.changing.toClone);
  }

  private static DiskException inUse(Path source, List<String> holders) {
    return new DiskException(
        ErrorCode.ImageInUse,
        "cannot clone "
            + source
            + ": process "
            + String.join(", ", holders)
            + " has it open; stop the guest using it and retry");
  }
}
