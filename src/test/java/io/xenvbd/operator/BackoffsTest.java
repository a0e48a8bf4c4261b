package io.xenvbd.operator;

import static org.assertj.core.api.Assertions.assertThat;

import java.time.Duration;
import java.time.Instant;
import java.util.ArrayList;
import java.util.List;
import org.junit.jupiter.api.Test;

/**
 * When a disk is looked at again: polls of a build and retries after agent errors, with the fast
 * test config (polls 50ms..200ms, retries 100ms..400ms), on a clock the test moves.
 */
class BackoffsTest {
  final TestClock clock = new TestClock(Instant.parse("2026-01-01T12:00:00Z"));
  final Backoffs backoffs = new Backoffs(OperatorHarness.fastConfig(), clock);

  static Duration ms(long millis) {
    return Duration.ofMillis(millis);
  }

  @Test
  void retriesAfterErrorsDoubleFromRetryMinAndStayAtRetryMax() {
    List<Duration> delays = new ArrayList<>();
    for (int i = 0; i < 5; i++) delays.add(backoffs.failed("u"));
    assertThat(delays).containsExactly(ms(100), ms(200), ms(400), ms(400), ms(400));
  }

  @Test
  void aRetryIsDueExactlyWhenItsDelayHasPassedAndNotAMillisecondBefore() {
    assertThat(backoffs.retryDue("u")).as("never failed").isTrue();
    assertThat(backoffs.untilRetry("u")).isEqualTo(Duration.ZERO);

    backoffs.failed("u");
    assertThat(backoffs.retryDue("u")).isFalse();
    assertThat(backoffs.untilRetry("u")).isEqualTo(ms(100));

    clock.advance(ms(99));
    assertThat(backoffs.retryDue("u")).isFalse();
    assertThat(backoffs.untilRetry("u")).isEqualTo(ms(1));

    clock.advance(ms(1));
    assertThat(backoffs.retryDue("u")).isTrue();
    assertThat(backoffs.untilRetry("u")).isEqualTo(Duration.ZERO);

    clock.advance(Duration.ofMinutes(5));
    assertThat(backoffs.untilRetry("u"))
        .as("overdue is due now, never negative")
        .isEqualTo(Duration.ZERO);
  }

  @Test
  void theNextFailureIsCountedFromWhenItHappensNotFromThePreviousDueTime() {
    backoffs.failed("u");
    clock.advance(Duration.ofSeconds(10));
    assertThat(backoffs.failed("u")).isEqualTo(ms(200));
    assertThat(backoffs.untilRetry("u")).isEqualTo(ms(200));
  }

  @Test
  void progressStartsTheLadderAgain() {
    backoffs.failed("u");
    backoffs.failed("u");
    backoffs.reset("u");
    assertThat(backoffs.retryDue("u")).isTrue();
    assertThat(backoffs.failed("u")).isEqualTo(ms(100));
  }

  @Test
  void aBuildTheAgentWorksOnIsPolledAtPollMinEveryTime() {
    assertThat(
            List.of(
                backoffs.nextPoll("u", false, false),
                backoffs.nextPoll("u", false, false),
                backoffs.nextPoll("u", false, false)))
        .containsOnly(ms(50));
  }

  @Test
  void aQueuedBuildIsPolledLessAndLessOftenUpToPollMaxUntilTheAgentStartsIt() {
    List<Duration> queued = new ArrayList<>();
    for (int i = 0; i < 5; i++) queued.add(backoffs.nextPoll("u", true, false));
    assertThat(queued).containsExactly(ms(50), ms(100), ms(200), ms(200), ms(200));
    assertThat(backoffs.nextPoll("u", false, false)).as("started").isEqualTo(ms(50));
    assertThat(backoffs.nextPoll("u", true, false))
        .as("queued again: from the start")
        .isEqualTo(ms(50));
  }

  @Test
  void whereTheNodeTellsOfEachEndAPollOnlyRefreshesProgressARunningBuildsEverySecond() {
    Backoffs shipped = new Backoffs(OperatorConfig.inProcess(), clock);
    assertThat(shipped.nextPoll("u", false, true))
        .as("running: its progress once a second")
        .isEqualTo(Backoffs.PROGRESS_POLL)
        .isEqualTo(Duration.ofSeconds(1));
    assertThat(List.of(shipped.nextPoll("q", true, true), shipped.nextPoll("q", true, true)))
        .as("queued: its stage every pollMax")
        .containsOnly(OperatorConfig.inProcess().pollMax());
    assertThat(shipped.nextPoll("q", true, false))
        .as("the node's ends lost: polled from pollMin again")
        .isEqualTo(OperatorConfig.inProcess().pollMin());
    assertThat(backoffs.nextPoll("u", false, true))
        .as("never slower than pollMax (the fast test config's 200 ms)")
        .isEqualTo(ms(200));
  }

  @Test
  void pollsAndRetriesAreCountedPerDisk() {
    backoffs.failed("a");
    backoffs.failed("a");
    backoffs.nextPoll("a", true, false);
    backoffs.nextPoll("a", true, false);
    assertThat(backoffs.failed("b")).isEqualTo(ms(100));
    assertThat(backoffs.nextPoll("b", true, false)).isEqualTo(ms(50));
    assertThat(backoffs.retryDue("b")).isFalse();
    backoffs.reset("b");
    assertThat(backoffs.retryDue("a")).as("resetting b leaves a waiting").isFalse();
  }

  @Test
  void doublingIsBoundedAndNeverOverflows() {
    assertThat(Backoffs.doubled(ms(100), ms(400), 0)).isEqualTo(ms(100));
    assertThat(Backoffs.doubled(ms(100), ms(400), 1)).isEqualTo(ms(200));
    assertThat(Backoffs.doubled(Duration.ofDays(1), Duration.ofDays(2), 1000))
        .isEqualTo(Duration.ofDays(2));
    assertThat(Backoffs.doubled(Duration.ofDays(1), Duration.ofDays(2), Integer.MAX_VALUE))
        .isEqualTo(Duration.ofDays(2));
  }
}
