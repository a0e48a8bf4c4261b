package io.xenvbd.operator;

import static io.xenvbd.operator.Fixtures.GI;
import static org.assertj.core.api.Assertions.assertThat;

import io.xenvbd.api.Reasons;
import io.xenvbd.api.VirtualDisk;
import io.xenvbd.api.VirtualDiskStatus;
import io.xenvbd.protocol.ErrorCodes;
import java.time.Duration;
import java.time.Instant;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;

/**
 * The events kubectl describe shows for a sequence of reconcile outcomes: one per transition,
 * however often a reconcile repeats, written through the real {@link EventRecorder} into the mock
 * API server.
 */
class DiskEventsTest {
  static MockApi api;
  OperatorHarness h;
  final TestClock clock = new TestClock(Instant.parse("2026-01-01T12:00:00Z"));
  final StatusBuilder statuses = new StatusBuilder(clock);
  DiskEvents events;
  final VirtualDisk disk = Fixtures.disk("ns", "d", "1Gi");

  @BeforeAll
  static void startApi() {
    api = MockApi.start();
  }

  @AfterAll
  static void stopApi() {
    api.close();
  }

  @BeforeEach
  void recorder() {
    h = new OperatorHarness(api);
    events = new DiskEvents(new EventRecorder(api.client, clock, new OperatorMetrics(), "test"));
    disk.getMetadata().setUid("uid-d");
    disk.getMetadata().setGeneration(1L);
  }

  @AfterEach
  void clean() {
    h.close();
  }

  /**
   * One reconcile: the status the outcome gives, its events, and a second later on the clock
   * (events sort by time).
   */
  void step(String node, Outcome outcome) {
    VirtualDiskStatus old = disk.getStatus();
    VirtualDiskStatus now =
        statuses.build(
            disk, node, Fixtures.node("a", 100 * GI, 0, 8, 1, false, clock.instant(), 10), outcome);
    events.transition(disk, old, now);
    disk.setStatus(now);
    clock.advance(Duration.ofSeconds(1));
  }

  @Test
  void aDisksLifeGivesOneEventPerTransitionAndNoneForRepeats() {
    String noNode =
        "no dom0 node fits 1Gi now (no Dom0Node exists yet: start the xenvbd agent on a dom0); the disk"
            + " stays Pending and is placed as soon as a node has room";
    step(null, new Outcome.Unschedulable(Reasons.NO_NODE_FITS, noNode));
    step(null, new Outcome.Unschedulable(Reasons.NO_NODE_FITS, noNode));
    step("a", new Outcome.Placed("a", "placed on dom0 node a, the least committed of 1 that fit"));
    step("a", new Outcome.Working(StatusBuilderTest.building("Format", 40)));
    step("a", new Outcome.Working(StatusBuilderTest.building("Populate", 60)));
    step("a", new Outcome.Done(StatusBuilderTest.ready(GI)));
    step("a", new Outcome.Done(StatusBuilderTest.ready(GI)));
    String refused = "dom0 node a: agent at https://a:8443 is unreachable: connection refused";
    step("a", new Outcome.Unreachable(Reasons.NODE_UNREACHABLE, refused));
    step("a", new Outcome.Unreachable(Reasons.NODE_UNREACHABLE, refused));
    String missed =
        "the agent of dom0 node a missed its heartbeats (expected every 10s, none for over 30s): check"
            + " that the xenvbd agent runs on a";
    step("a", new Outcome.Unreachable(Reasons.NODE_UNREACHABLE, missed));
    step("a", new Outcome.Done(StatusBuilderTest.ready(GI)));
    String noRoom =
        "growing the image from 1Gi to 2Gi is refused: Dom0Node a has 512Mi left to promise";
    disk.setSpec(Fixtures.disk("ns", "d", "2Gi").getSpec());
    disk.getMetadata().setGeneration(2L);
    step(
        "a",
        new Outcome.GrowRefused(StatusBuilderTest.ready(GI), Reasons.INSUFFICIENT_STORAGE, noRoom));
    step(
        "a",
        new Outcome.GrowRefused(StatusBuilderTest.ready(GI), Reasons.INSUFFICIENT_STORAGE, noRoom));
    step("a", new Outcome.Working(StatusBuilderTest.resizing(2 * GI)));
    step("a", new Outcome.Done(StatusBuilderTest.ready(2 * GI)));
    step("a", new Outcome.Done(StatusBuilderTest.ready(2 * GI)));

    assertThat(h.events("ns", "d"))
        .containsExactly(
            "Warning NoNodeFits: " + noNode,
            "Normal Scheduled: placed on dom0 node a",
            "Normal ProvisioningStarted: agent on a: Format 40%",
            "Normal Provisioned: image /img/ns/d.img on a: 1Gi, 1.2Mi allocated, format=raw, vdev=xvda1, access=rw,"
                + " target=/img/ns/d.img",
            "Warning NodeUnreachable: " + refused,
            "Warning NodeUnreachable: " + missed,
            "Warning InsufficientStorage: " + noRoom,
            // a grow has its own start event, apart from a build's
            "Normal ResizeStarted: agent on a: growing the image from 1Gi to 2Gi (Resize 50%)",
            "Normal Resized: image grown from 1Gi to 2Gi");
  }

  @Test
  void aFailureIsWarnedOnceAndAgainOnlyWhenTheAgentSaysSomethingElse() {
    step("a", new Outcome.Placed("a", "placed on dom0 node a as requested"));
    step("a", new Outcome.Failed(ErrorCodes.NO_SPACE, "the images root is full"));
    step("a", new Outcome.Failed(ErrorCodes.NO_SPACE, "the images root is full"));
    step(
        "a",
        new Outcome.Failed(ErrorCodes.COMMAND_FAILED, "mkfs.ext4 exited with 1: bad block size"));
    assertThat(h.events("ns", "d"))
        .containsExactly(
            "Normal Scheduled: placed on dom0 node a",
            "Warning ProvisioningFailed: NoSpace: the images root is full",
            "Warning ProvisioningFailed: CommandFailed: mkfs.ext4 exited with 1: bad block size");
  }

  @Test
  void anInvalidSpecIsWarnedOncePerMessage() {
    step(
        null,
        new Outcome.Invalid(
            Reasons.INVALID_SPEC, "spec.size 0 is not a positive quantity: set it to e.g. 2Gi"));
    step(
        null,
        new Outcome.Invalid(
            Reasons.INVALID_SPEC, "spec.size 0 is not a positive quantity: set it to e.g. 2Gi"));
    assertThat(h.events("ns", "d"))
        .containsExactly(
            "Warning InvalidSpec: spec.size 0 is not a positive quantity: set it to e.g. 2Gi");
  }

  @Test
  void aBlockedDeletionIsWarnedOnceWhileItStaysBlocked() {
    step("a", new Outcome.Done(StatusBuilderTest.ready(GI)));
    String inUse =
        "image /img/ns/d.img is attached to /dev/loop3; detach it and deletion completes by itself";
    step("a", new Outcome.Blocked(ErrorCodes.IMAGE_IN_USE, inUse));
    step("a", new Outcome.Blocked(ErrorCodes.IMAGE_IN_USE, inUse));
    assertThat(h.events("ns", "d"))
        .containsExactly(
            "Normal Scheduled: placed on dom0 node a",
            "Normal Provisioned: image /img/ns/d.img on a: 1Gi, 1.2Mi allocated, format=raw, vdev=xvda1, access=rw,"
                + " target=/img/ns/d.img",
            "Warning DeletionBlocked: ImageInUse: " + inUse);
  }
}
