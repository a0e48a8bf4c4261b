package io.xenvbd.agent;

import static org.assertj.core.api.Assertions.assertThat;
import static org.awaitility.Awaitility.await;

import io.xenvbd.protocol.OperationEnds;
import java.time.Duration;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.Test;

/** What GET /v1/ends answers: the ends after the caller's, complete or not, and the wait. */
class EndLogTest {
  final EndLog log = new EndLog();

  @Test
  void aCallerOfThisRunGetsWhatEndedAfterItsLastAnswerInOrder() throws Exception {
    OperationEnds first = log.after("", 0, Duration.ZERO);
    assertThat(first.complete()).as("a caller of no run yet").isFalse();
    assertThat(first.seq()).isZero();

    log.record("ns1", "a", "u1");
    log.record("ns2", "b", "u2");
    OperationEnds next = log.after(first.epoch(), first.seq(), Duration.ZERO);
    assertThat(next.complete()).isTrue();
    assertThat(next.seq()).isEqualTo(2);
    assertThat(next.ended())
        .containsExactly(
            new OperationEnds.Ended("ns1", "a", "u1"), new OperationEnds.Ended("ns2", "b", "u2"));
    assertThat(log.after(next.epoch(), next.seq(), Duration.ZERO).ended()).isEmpty();
    assertThat(log.after(next.epoch(), next.seq(), Duration.ZERO).complete()).isTrue();
  }

  @Test
  void anotherRunOrACountAheadOfThisRunIsNotComplete() throws Exception {
    log.record("ns1", "a", "u1");
    String epoch = log.after("", 0, Duration.ZERO).epoch();
    assertThat(new EndLog().after(epoch, 0, Duration.ZERO).complete())
        .as("the epoch of the agent before its restart")
        .isFalse();
    OperationEnds ahead = log.after(epoch, 5, Duration.ZERO);
    assertThat(ahead.complete()).isFalse();
    assertThat(ahead.ended()).isEmpty();
  }

  @Test
  void endsBeyondWhatIsKeptMakeTheAnswerIncomplete() throws Exception {
    String epoch = log.after("", 0, Duration.ZERO).epoch();
    for (int i = 0; i < EndLog.KEPT + 5; i++) log.record("ns", "d" + i, "u" + i);
    OperationEnds behind = log.after(epoch, 2, Duration.ZERO);
    assertThat(behind.complete()).as("ends 3 and 4 are no longer kept").isFalse();
    OperationEnds justKept = log.after(epoch, 5, Duration.ZERO);
    assertThat(justKept.complete()).isTrue();
    assertThat(justKept.ended()).hasSize(EndLog.KEPT);
    assertThat(justKept.ended().get(0).name()).isEqualTo("d5");
  }

  @Test
  void aCallerWithNothingNewWaitsForTheNextEnd() throws Exception {
    OperationEnds now = log.after("", 0, Duration.ZERO);
    CompletableFuture<OperationEnds> waiting =
        CompletableFuture.supplyAsync(() -> after(now.epoch(), now.seq(), Duration.ofSeconds(20)));
    await().atMost(Duration.ofSeconds(5)).until(() -> waitingCallers() == 1);
    assertThat(waiting).isNotDone();
    log.record("ns1", "a", "u1");
    OperationEnds answer = waiting.get(5, TimeUnit.SECONDS);
    assertThat(answer.ended()).containsExactly(new OperationEnds.Ended("ns1", "a", "u1"));
  }

  @Test
  void onlyTwoCallersWaitAtOnceTheNextIsAnsweredAtOnce() throws Exception {
    OperationEnds now = log.after("", 0, Duration.ZERO);
    CompletableFuture<OperationEnds> w1 =
        CompletableFuture.supplyAsync(() -> after(now.epoch(), 0, Duration.ofSeconds(20)));
    CompletableFuture<OperationEnds> w2 =
        CompletableFuture.supplyAsync(() -> after(now.epoch(), 0, Duration.ofSeconds(20)));
    await().atMost(Duration.ofSeconds(5)).until(() -> waitingCallers() == EndLog.MAX_WAITING);
    OperationEnds third =
        CompletableFuture.supplyAsync(() -> after(now.epoch(), 0, Duration.ofSeconds(20)))
            .get(5, TimeUnit.SECONDS);
    assertThat(third.complete()).isTrue();
    assertThat(third.ended()).isEmpty();
    log.record("ns1", "a", "u1");
    assertThat(w1.get(5, TimeUnit.SECONDS).ended()).hasSize(1);
    assertThat(w2.get(5, TimeUnit.SECONDS).ended()).hasSize(1);
  }

  private int waitingCallers() {
    return log.waiting();
  }

  private OperationEnds after(String epoch, long after, Duration wait) {
    try {
      return log.after(epoch, after, wait);
    } catch (InterruptedException e) {
      throw new IllegalStateException(e);
    }
  }
}
