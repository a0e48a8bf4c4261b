package io.xenvbd.operator;

import static io.xenvbd.operator.Fixtures.GI;
import static org.assertj.core.api.Assertions.assertThat;

import io.fabric8.kubernetes.api.model.ConditionBuilder;
import io.xenvbd.api.Dom0Node;
import io.xenvbd.api.Dom0NodeStatus;
import java.time.Clock;
import java.time.Duration;
import java.time.Instant;
import java.time.ZoneOffset;
import java.util.List;
import java.util.Optional;
import java.util.stream.Stream;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.Arguments;
import org.junit.jupiter.params.provider.MethodSource;

/** Whether a node counts as alive: three missed heartbeats, to the millisecond. */
class NodeHealthTest {
  static final Instant NOW = Instant.parse("2026-01-01T12:00:00Z");
  static final Clock CLOCK = Clock.fixed(NOW, ZoneOffset.UTC);

  static Dom0Node node(Instant heartbeat, int seconds) {
    return Fixtures.node("a", 10 * GI, 0, 8, 1, false, heartbeat, seconds);
  }

  /** The same node with its agent block replaced. */
  static Dom0Node withAgent(Dom0Node n, Dom0NodeStatus.Agent agent) {
    Dom0NodeStatus s = n.getStatus();
    n.setStatus(
        new Dom0NodeStatus(
            agent, s.loopDevices(), s.storage(), s.disks(), s.orphans(), s.conditions()));
    return n;
  }

  static Dom0NodeStatus.Agent agent(String lastHeartbeat, Integer seconds) {
    return new Dom0NodeStatus.Agent("fake://a", "test", lastHeartbeat, seconds, null);
  }

  static String missed(int seconds) {
    return "the agent of dom0 node a missed its heartbeats (expected every "
        + seconds
        + "s, none for over "
        + 3 * seconds
        + "s): check that the xenvbd agent runs on a";
  }

  static Stream<Arguments> heartbeatAges() {
    return Stream.of(
        Arguments.of("just now", Duration.ZERO, 10, true),
        Arguments.of("two missed", Duration.ofSeconds(20), 10, true),
        Arguments.of("exactly three intervals", Duration.ofSeconds(30), 10, true),
        Arguments.of("a millisecond past three intervals", Duration.ofMillis(30_001), 10, false),
        Arguments.of("long gone", Duration.ofHours(1), 10, false),
        Arguments.of("slow heartbeat, exactly three intervals", Duration.ofSeconds(180), 60, true),
        Arguments.of("slow heartbeat, a second past", Duration.ofSeconds(181), 60, false),
        Arguments.of("clock skew: heartbeat from the future", Duration.ofSeconds(-120), 10, true));
  }

  @ParameterizedTest(name = "{0}")
  @MethodSource("heartbeatAges")
  void aNodeIsAliveUntilItsHeartbeatIsOlderThanThreeIntervals(
      String name, Duration age, int seconds, boolean alive) {
    Dom0Node n = node(NOW.minus(age), seconds);
    assertThat(NodeHealth.healthy(n, CLOCK)).isEqualTo(alive);
    assertThat(NodeHealth.problem(n, CLOCK))
        .isEqualTo(alive ? Optional.empty() : Optional.of(missed(seconds)));
  }

  static Stream<Arguments> unsetIntervals() {
    return Stream.of(Arguments.of((Integer) null), Arguments.of(0), Arguments.of(-5));
  }

  @ParameterizedTest(name = "heartbeatSeconds {0}")
  @MethodSource("unsetIntervals")
  void anUnsetOrNonsenseIntervalMeansTheDefaultTenSeconds(Integer seconds) {
    Dom0Node fresh = withAgent(node(NOW, 10), agent(NOW.minusSeconds(30).toString(), seconds));
    Dom0Node stale = withAgent(node(NOW, 10), agent(NOW.minusMillis(30_001).toString(), seconds));
    assertThat(NodeHealth.problem(fresh, CLOCK)).isEmpty();
    assertThat(NodeHealth.problem(stale, CLOCK)).contains(missed(10));
  }

  @Test
  void theMessageCarriesNoTimestampSoTheStatusStaysEqualBetweenReconciles() {
    Dom0Node n = node(NOW.minusSeconds(60), 10);
    String first = NodeHealth.problem(n, CLOCK).orElseThrow();
    String later =
        NodeHealth.problem(n, Clock.fixed(NOW.plusSeconds(3600), ZoneOffset.UTC)).orElseThrow();
    assertThat(later).isEqualTo(first);
  }

  @Test
  void aNodeWhoseAgentNeverRegisteredIsNotAlive() {
    Dom0Node noStatus = node(NOW, 10);
    noStatus.setStatus(null);
    Dom0Node noAgent = withAgent(node(NOW, 10), null);
    Dom0Node noHeartbeat = withAgent(node(NOW, 10), agent(null, 10));
    for (Dom0Node n : List.of(noStatus, noAgent, noHeartbeat)) {
      assertThat(NodeHealth.problem(n, CLOCK))
          .contains("the agent of dom0 node a has not registered yet");
    }
  }

  @Test
  void readyFalseOnTheNodeWinsOverAFreshHeartbeat() {
    Dom0Node n = node(NOW, 10);
    Dom0NodeStatus s = n.getStatus();
    n.setStatus(
        new Dom0NodeStatus(
            s.agent(),
            s.loopDevices(),
            s.storage(),
            s.disks(),
            s.orphans(),
            List.of(
                new ConditionBuilder()
                    .withType("Ready")
                    .withStatus("False")
                    .withReason("HeartbeatMissed")
                    .build())));
    assertThat(NodeHealth.problem(n, CLOCK)).contains("Dom0Node a reports Ready=False");
  }

  @Test
  void readyUnknownLeavesTheVerdictToTheHeartbeat() {
    Dom0Node n = node(NOW, 10);
    Dom0NodeStatus s = n.getStatus();
    n.setStatus(
        new Dom0NodeStatus(
            s.agent(),
            s.loopDevices(),
            s.storage(),
            s.disks(),
            s.orphans(),
            List.of(
                new ConditionBuilder()
                    .withType("Ready")
                    .withStatus("Unknown")
                    .withReason("HeartbeatMissed")
                    .build())));
    assertThat(NodeHealth.problem(n, CLOCK)).isEmpty();
  }

  @Test
  void anUnreadableHeartbeatIsQuotedAndCountsAsNotAlive() {
    Dom0Node n = withAgent(node(NOW, 10), agent("yesterday", 10));
    assertThat(NodeHealth.problem(n, CLOCK))
        .contains("Dom0Node a has an unreadable lastHeartbeat 'yesterday'");
    assertThat(NodeHealth.lastHeartbeat(n))
        .as("the ledger counts it as never heard from")
        .isEqualTo(Instant.EPOCH);
  }

  @Test
  void lastHeartbeatIsTheParsedTimeOrTheEpoch() {
    assertThat(NodeHealth.lastHeartbeat(node(NOW.minusSeconds(7), 10)))
        .isEqualTo(NOW.minusSeconds(7));
    Dom0Node noStatus = node(NOW, 10);
    noStatus.setStatus(null);
    assertThat(NodeHealth.lastHeartbeat(noStatus)).isEqualTo(Instant.EPOCH);
  }
}
