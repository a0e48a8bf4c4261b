package io.xenvbd.agent;

import io.xenvbd.protocol.OperationEnds;
import java.security.SecureRandom;
import java.time.Duration;
import java.util.ArrayDeque;
import java.util.ArrayList;
import java.util.HexFormat;
import java.util.List;
import java.util.concurrent.TimeUnit;

/**
 * The operations that ended in this run of the agent, numbered in the order they ended, the last
 * {@link #KEPT} of them kept: what {@code GET /v1/ends} answers. A caller that waits for the next
 * end holds one API thread for at most {@link #MAX_WAIT}; at most {@link #MAX_WAITING} wait at once
 * (an operator, and a restarted one while the old one's call runs out), the others are answered at
 * once.
 */
final class EndLog {
  static final int KEPT = 1024;
  static final Duration MAX_WAIT = Duration.ofSeconds(10);
  static final int MAX_WAITING = 2;

  private record Entry(long seq, OperationEnds.Ended ended) {}

  private final String epoch;
  private final ArrayDeque<Entry> kept = new ArrayDeque<>();
  private long seq; // guarded by this
  private int waiting; // guarded by this
  private boolean closed; // guarded by this: the agent is stopping, nobody waits

  EndLog() {
    byte[] b = new byte[8];
    new SecureRandom().nextBytes(b);
    this.epoch = HexFormat.of().formatHex(b);
  }

  /**
   * The agent is stopping: every waiting caller is answered now and none waits any more, so that
   * each gets its answer before the server closes its connection (not a hang until its timeout).
   */
  synchronized void close() {
    closed = true;
    notifyAll();
  }

  /** Callers waiting now. */
  synchronized int waiting() {
    return waiting;
  }

  synchronized void record(String namespace, String name, String uid) {
    kept.addLast(new Entry(++seq, new OperationEnds.Ended(namespace, name, uid)));
    if (kept.size() > KEPT) kept.removeFirst();
    notifyAll();
  }

  /**
   * What ended after the caller's {@code after} in its {@code epoch}; when nothing has, waits up to
   * {@code wait} for the next end.
   */
  synchronized OperationEnds after(String epoch, long after, Duration wait)
      throws InterruptedException {
    boolean same = this.epoch.equals(epoch) && after >= 0 && after <= seq;
    if (same && after == seq && !wait.isZero() && waiting < MAX_WAITING && !closed) {
      waiting++;
      try {
        long deadline = System.nanoTime() + Math.min(wait.toNanos(), MAX_WAIT.toNanos());
        for (long left = deadline - System.nanoTime();
            seq == after && left > 0 && !closed;
            left = deadline - System.nanoTime()) {
          TimeUnit.NANOSECONDS.timedWait(this, left);
        }
      } finally {
        waiting--;
      }
    }
    if (!same) return new OperationEnds(this.epoch, seq, false, List.of());
    List<OperationEnds.Ended> ended = new ArrayList<>();
    long oldest = seq + 1;
    for (Entry e : kept) {
      oldest = Math.min(oldest, e.seq());
      if (e.seq() > after) ended.add(e.ended());
    }
    return new OperationEnds(this.epoch, seq, after + 1 >= oldest, ended);
  }
}
