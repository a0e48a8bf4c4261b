package io.xenvbd.operator;

import static org.assertj.core.api.Assertions.assertThat;
import static org.awaitility.Awaitility.await;

import io.xenvbd.api.Conditions;
import io.xenvbd.api.Dom0Node;
import io.xenvbd.testing.RequiresRoot;
import java.nio.file.Path;
import java.time.Duration;
import java.util.stream.IntStream;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * A disk is looked at when its build ends on the agent (GET /v1/ends), not at its next poll: with
 * polls two minutes apart and a heartbeat a minute apart, a node's worth of disks, half of them
 * queued behind the agent's three workers, is Ready within seconds of their builds.
 */
@RequiresRoot
class EndWatcherTest {
  static MockApi api;
  OperatorHarness h;
  RealNodes nodes;
  @TempDir Path dir;

  @BeforeAll
  static void startApi() {
    api = MockApi.start();
  }

  @AfterAll
  static void stopApi() {
    api.close();
  }

  @AfterEach
  void stop() {
    if (h != null) {
      h.stopOperator();
      h.close();
    }
    if (nodes != null) nodes.close();
  }

  @Test
  void disksQueuedOnTheAgentAreReadyWhenTheirBuildsEndWithoutAPoll() {
    nodes = new RealNodes(dir, api.client, Duration.ofSeconds(60));
    nodes.start("node-a");
    await()
        .atMost(Duration.ofSeconds(10))
        .until(
            () ->
                api.client.resources(Dom0Node.class).withName("node-a").get() != null
                    && api.client.resources(Dom0Node.class).withName("node-a").get().getStatus()
                        != null);
    h = new OperatorHarness(api);
    h.start(
        nodes.clients(),
        OperatorConfig.builder()
            .pollMin(Duration.ofMinutes(2))
            .pollMax(Duration.ofMinutes(2))
            .readyRecheck(Duration.ofMinutes(2))
            .build());
    IntStream.range(0, 6)
        .forEach(
            i ->
                h.create(
                    Fixtures.disk(
                        "ns1", "d" + i, Fixtures.spec("node-a", "16Mi", null, null, null))));
    await()
        .atMost(Duration.ofSeconds(40))
        .pollInterval(Duration.ofMillis(200))
        .untilAsserted(
            () ->
                assertThat(IntStream.range(0, 6).mapToObj(i -> h.get("ns1", "d" + i)))
                    .allSatisfy(
                        d ->
                            assertThat(
                                    Conditions.isTrue(
                                        d.getStatus() == null ? null : d.getStatus().conditions(),
                                        Conditions.READY))
                                .as(d.getMetadata().getName() + " Ready")
                                .isTrue()));
  }
}
