package io.xenvbd.operator;

import static io.xenvbd.operator.Fixtures.GI;
import static org.assertj.core.api.Assertions.assertThat;

import io.xenvbd.api.Dom0Node;
import io.xenvbd.api.Reasons;
import io.xenvbd.api.VirtualDisk;
import io.xenvbd.api.VirtualDiskStatus;
import java.time.Clock;
import java.time.Instant;
import java.time.ZoneOffset;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;

/**
 * The status written to the API server (the mock, in CRUD mode), the writes it saves, and the
 * status the next reconcile builds on when the informer cache has not caught up yet.
 */
class StatusWriterTest {
  static final Instant NOW = Instant.parse("2026-01-01T12:00:00Z");
  static MockApi api;
  OperatorHarness h;
  final StatusBuilder statuses = new StatusBuilder(Clock.fixed(NOW, ZoneOffset.UTC));
  final Dom0Node node = Fixtures.node("a", 100 * GI, 0, 8, 1, false, NOW, 10);
  final StatusWriter writer = new StatusWriter(api.client);

  /** The object as the informer cache first saw it: no status yet. */
  VirtualDisk cached;

  @BeforeAll
  static void startApi() {
    api = MockApi.start();
  }

  @AfterAll
  static void stopApi() {
    api.close();
  }

  @BeforeEach
  void createDisk() {
    h = new OperatorHarness(api);
    cached = h.create(Fixtures.disk("ns", "d", "1Gi"));
  }

  @AfterEach
  void clean() {
    h.close();
  }

  VirtualDiskStatus after(VirtualDiskStatus previous, Outcome outcome) {
    VirtualDisk d = h.get("ns", "d");
    d.setStatus(previous);
    return statuses.build(d, "a", node, outcome);
  }

  VirtualDiskStatus onServer() {
    return h.get("ns", "d").getStatus();
  }

  @Test
  void theNextReconcileBuildsOnWhatWasWrittenWhileTheCacheStillShowsNoStatus() {
    VirtualDiskStatus placed =
        after(null, new Outcome.Placed("a", "placed on dom0 node a as requested"));
    writer.write(cached, placed);
    assertThat(onServer()).isEqualTo(placed);
    assertThat(writer.current(cached).nodeName()).as("its node, above all").isEqualTo("a");

    VirtualDiskStatus building =
        after(placed, new Outcome.Working(StatusBuilderTest.building("Format", 40)));
    writer.write(cached, building);
    assertThat(onServer()).isEqualTo(building);
    assertThat(writer.current(cached)).isEqualTo(building);
  }

  @Test
  void anUnchangedStatusIsNotWrittenAgain() {
    VirtualDiskStatus ready = after(null, new Outcome.Done(StatusBuilderTest.ready(GI)));
    writer.write(cached, ready);
    VirtualDiskStatus rebuilt = after(ready, new Outcome.Done(StatusBuilderTest.ready(GI)));
    VirtualDisk fresh = h.get("ns", "d");
    int requests = api.server.getRequestCount();
    writer.write(cached, rebuilt);
    assertThat(api.server.getRequestCount()).isEqualTo(requests);

    StatusWriter restarted = new StatusWriter(api.client);
    restarted.write(fresh, rebuilt);
    assertThat(api.server.getRequestCount())
        .as("after a restart, compared with the object's own status")
        .isEqualTo(requests);
    restarted.write(fresh, after(ready, new Outcome.Unreachable(Reasons.NODE_UNREACHABLE, "gone")));
    assertThat(api.server.getRequestCount()).as("a change is written").isEqualTo(requests + 2);
  }

  @Test
  void theWholeStatusIsReplacedSoAFieldThatWentAwayIsGoneOnTheServer() {
    VirtualDiskStatus building =
        after(null, new Outcome.Working(StatusBuilderTest.building("Format", 40)));
    writer.write(cached, building);
    assertThat(onServer().progress()).isNotNull();
    VirtualDiskStatus ready = after(building, new Outcome.Done(StatusBuilderTest.ready(GI)));
    assertThat(ready.progress()).isNull();
    writer.write(cached, ready);
    assertThat(onServer().progress()).isNull();
    assertThat(onServer()).isEqualTo(ready);
  }

  @Test
  void aForgottenDiskFallsBackToTheStatusItsObjectCarries() {
    VirtualDiskStatus placed =
        after(null, new Outcome.Placed("a", "placed on dom0 node a as requested"));
    writer.write(cached, placed);
    writer.forget(cached.getMetadata().getUid());
    assertThat(writer.current(cached)).isNull();
    assertThat(writer.current(h.get("ns", "d"))).isEqualTo(placed);
  }
}
