package io.xenvbd.operator;

import java.time.Clock;
import java.time.Duration;
import java.time.Instant;
import java.util.Map;
import java.util.Objects;
import java.util.Optional;
import java.util.concurrent.ConcurrentHashMap;

/**
 * Per-disk delays: polls of a running build, and retries after agent errors, both doubling up to a
 * bound. Kept in memory on purpose: after a restart the operator simply starts again from the
 * shortest delay, which is harmless because every agent call is idempotent.
 */
final class Backoffs {
  private record Attempt(int count, Instant due) {}

  private final Duration pollMin;
  private final Duration pollMax;
  private final Duration retryMin;
  private final Duration retryMax;
  private final Clock clock;
  private final Map<String, Integer> polls = new ConcurrentHashMap<>();
  private final Map<String, Attempt> failures = new ConcurrentHashMap<>();

  /** What a disk's last failed attempt found, for the generation it was made for. */
  private record Held(Long generation, Outcome outcome) {}

  private final Map<String, Held> held = new ConcurrentHashMap<>();

  Backoffs(OperatorConfig config, Clock clock) {
    this.pollMin = config.pollMin();
    this.pollMax = config.pollMax();
    this.retryMin = config.retryMin();
    this.retryMax = config.retryMax();
    this.clock = clock;
  }

  /**
   * How often a running build's progress is refreshed when its end is told to the operator anyway
   * (its node's ends are live): once a second, not slower than pollMax.
   */
  static final Duration PROGRESS_POLL = Duration.ofSeconds(1);

  /**
   * Delay before the next poll of a disk that is building. Where the node's agent tells the
   * operator of each end ({@code endsLive}, see {@link EndWatcher}) a poll only refreshes what the
   * status shows: a running build's progress every {@link #PROGRESS_POLL} (within pollMin and
   * pollMax), a queued one's stage every pollMax. Elsewhere nothing but the poll tells the operator
   * of the end: while the agent works on the disk (a stage other than Queued) the build ends within
   * seconds, so it looks again after pollMin; a queued disk waits for other builds, so its polls
   * back off up to pollMax.
   */
  Duration nextPoll(String uid, boolean queued, boolean endsLive) {
    if (endsLive) {
      polls.remove(uid);
      if (queued) return pollMax;
      Duration d = PROGRESS_POLL.compareTo(pollMin) < 0 ? pollMin : PROGRESS_POLL;
      return d.compareTo(pollMax) > 0 ? pollMax : d;
    }
    if (!queued) {
      polls.remove(uid);
      return pollMin;
    }
    int n = polls.merge(uid, 1, Integer::sum) - 1;
    return doubled(pollMin, pollMax, n);
  }

  /** Records one more failure and returns how long to wait before the next attempt. */
  Duration failed(String uid) {
    Attempt a =
        failures.compute(
            uid,
            (k, old) -> {
              int count = old == null ? 1 : old.count() + 1;
              return new Attempt(
                  count, Instant.now(clock).plus(doubled(retryMin, retryMax, count - 1)));
            });
    return Duration.between(Instant.now(clock), a.due());
  }

  /**
   * Keeps what an attempt found while the disk waits for its retry (the attempt recorded a failure
   * whose retry is not due yet); forgets it otherwise.
   */
  void remember(String uid, Long generation, Outcome outcome) {
    if (failures.containsKey(uid) && !retryDue(uid)) held.put(uid, new Held(generation, outcome));
    else held.remove(uid);
  }

  /**
   * The outcome of the last failed attempt, while its retry is not due and the spec (generation) is
   * the one it was made for; empty when the disk should be tried now.
   */
  Optional<Outcome> waiting(String uid, Long generation) {
    Held h = held.get(uid);
    if (h == null || retryDue(uid) || !Objects.equals(h.generation(), generation))
      return Optional.empty();
    return Optional.of(h.outcome());
  }

  /** The next wake tries the agent whatever the backoff: the node itself changed. */
  void release(String uid) {
    held.remove(uid);
  }

  /** Whether a failed disk may be retried now (true when it never failed). */
  boolean retryDue(String uid) {
    Attempt a = failures.get(uid);
    return a == null || !Instant.now(clock).isBefore(a.due());
  }

  /** Time left until the retry of a failed disk is due. */
  Duration untilRetry(String uid) {
    Attempt a = failures.get(uid);
    if (a == null) return Duration.ZERO;
    Duration left = Duration.between(Instant.now(clock), a.due());
    return left.isNegative() ? Duration.ZERO : left;
  }

  /** Progress was made: the next poll or retry starts from the shortest delay again. */
  void reset(String uid) {
    polls.remove(uid);
    failures.remove(uid);
    held.remove(uid);
  }

  static Duration doubled(Duration min, Duration max, int exponent) {
    Duration d = min.multipliedBy(1L << Math.min(exponent, 20));
    return d.compareTo(max) > 0 ? max : d;
  }
}
