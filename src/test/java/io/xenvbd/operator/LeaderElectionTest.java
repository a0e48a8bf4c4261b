package io.xenvbd.operator;

import static io.xenvbd.operator.Fixtures.GI;
import static org.assertj.core.api.Assertions.assertThat;
import static org.awaitility.Awaitility.await;

import java.time.Duration;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;

/**
 * Two replicas with a Lease: one reconciles, the other waits and takes over when the first stops.
 * The mock answers the SDK's SelfSubjectRulesReview (see MockApi.startGrantingLeases).
 */
class LeaderElectionTest {
  static MockApi api;

  @BeforeAll
  static void startApi() {
    api = MockApi.startGrantingLeases();
  }

  @AfterAll
  static void stopApi() {
    api.close();
  }

  static OperatorConfig replica(String identity) {
    return OperatorHarness.fastConfig().toBuilder()
        .leaderElection(true)
        .leaseNamespace("default")
        .identity(identity)
        .build();
  }

  @Test
  void onlyTheLeaderReconcilesAndTheStandbyTakesOverWhenItStops() {
    OperatorHarness h = new OperatorHarness(api);
    h.fake("a");
    h.putNode(Fixtures.node("a", 10 * GI, 0));
    XenvbdOperator first = XenvbdOperator.start(api.client, replica("op-1"), h.fakeAgents());
    await().atMost(Duration.ofSeconds(20)).until(first::isLeader);
    XenvbdOperator second = XenvbdOperator.start(api.client, replica("op-2"), h.fakeAgents());
    try {
      h.create(Fixtures.disk("ns1", "d1", "64Mi"));
      h.awaitReady("ns1", "d1");
      assertThat(second.isLeader()).isFalse();
      assertThat(second.metrics().render()).contains("xenvbd_operator_leader 0");
      assertThat(second.metrics().count("xenvbd_operator_outcomes_total", "outcome=\"Done\""))
          .isZero();
      assertThat(
              api.client
                  .leases()
                  .inNamespace("default")
                  .withName("xenvbd-operator")
                  .get()
                  .getSpec()
                  .getHolderIdentity())
          .isEqualTo("op-1");

      first.close(); // the Lease is not released: the standby waits about one lease duration
      await().atMost(Duration.ofSeconds(40)).until(second::isLeader);
      h.create(Fixtures.disk("ns1", "d2", "64Mi"));
      h.awaitReady("ns1", "d2");
      assertThat(second.metrics().count("xenvbd_operator_outcomes_total", "outcome=\"Done\""))
          .isPositive();
    } finally {
      first.close();
      second.close();
      h.close();
    }
  }
}
