package io.xenvbd.operator;

import static io.xenvbd.operator.Fixtures.GI;
import static org.assertj.core.api.Assertions.assertThat;

import io.xenvbd.api.Dom0Node;
import io.xenvbd.api.Reasons;
import io.xenvbd.api.VirtualDisk;
import io.xenvbd.api.VirtualDiskStatus;
import io.xenvbd.protocol.AgentClient;
import io.xenvbd.protocol.AgentException;
import io.xenvbd.protocol.DiskState;
import io.xenvbd.protocol.ErrorCodes;
import io.xenvbd.protocol.NodeInfo;
import io.xenvbd.protocol.Protocol;
import io.xenvbd.protocol.PutDiskRequest;
import java.time.Duration;
import java.time.Instant;
import java.util.ArrayList;
import java.util.List;
import java.util.Optional;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;

/**
 * One step of a placed disk against its node's agent (a {@link FakeNode}): what the disk's status
 * will say, and when the operator looks again (fast test config: polls 50ms, retries 100ms..400ms,
 * Ready disks every 1s).
 */
class AgentDriverTest {
  static final Instant NOW = Instant.parse("2026-01-01T12:00:00Z");
  static final Duration POLL = Duration.ofMillis(50);
  static final Duration RETRY = Duration.ofMillis(100);
  static final Duration READY_RECHECK = Duration.ofSeconds(1);

  final TestClock clock = new TestClock(NOW);
  final List<Dom0Node> nodes = new ArrayList<>();
  final List<VirtualDisk> disks = new ArrayList<>();
  final ClusterView cluster = ClusterView.of(nodes, disks);
  final FakeNode fake = new FakeNode("a");
  AgentClient agent = fake;
  final OperatorConfig config = OperatorHarness.fastConfig();

  /** Whether node a's ends reach the operator (EndWatcher.live); most tests: they do not. */
  boolean endsLive;

  final AgentDriver driver = driver(config);

  AgentDriver driver(OperatorConfig config) {
    return new AgentDriver(
        (node, endpoint) -> agent,
        cluster,
        new Placer(cluster, clock),
        new Backoffs(config, clock),
        clock,
        new OperatorMetrics(),
        config.readyRecheck(),
        Protocol.CURRENT,
        node -> endsLive);
  }

  final VirtualDisk disk = Fixtures.disk("ns", "d", "1Gi");

  @BeforeEach
  void oneHealthyNode() {
    disk.getMetadata().setUid("uid-d");
    nodes.add(node(100 * GI));
  }

  static Dom0Node node(long capacity) {
    return Fixtures.node("a", capacity, 0, 8, 1, false, NOW, 10);
  }

  AgentDriver.Step drive(long size) {
    return driver.drive(disk, "a", size);
  }

  /** Drives until the image is Ready, moving the clock by each recheck. */
  AgentDriver.Step buildToReady(long size) {
    for (int i = 0; i < 10; i++) {
      AgentDriver.Step step = drive(size);
      if (step.outcome() instanceof Outcome.Done) return step;
      clock.advance(step.recheck());
    }
    throw new AssertionError("never Ready");
  }

  /** An agent that fails the test if it is called at all. */
  static final AgentClient MUST_NOT_BE_CALLED =
      new AgentClient() {
        @Override
        public NodeInfo node() {
          throw new AssertionError("the agent must not be called");
        }

        @Override
        public DiskState putDisk(String ns, String name, PutDiskRequest request) {
          throw new AssertionError("the agent must not be called");
        }

        @Override
        public Optional<DiskState> getDisk(String ns, String name) {
          throw new AssertionError("the agent must not be called");
        }

        @Override
        public void deleteDisk(String ns, String name, String uid) {
          throw new AssertionError("the agent must not be called");
        }

        @Override
        public void releaseDisk(String ns, String name, String uid) {
          throw new AssertionError("the agent must not be called");
        }
      };

  /** The fake node, except that GET answers with this error. */
  AgentClient answeringGetWith(AgentException error) {
    return new ForwardingAgent(fake) {
      @Override
      public Optional<DiskState> getDisk(String ns, String name) {
        throw error;
      }

      @Override
      public Optional<DiskState> getDisk(String ns, String name, Duration wait) {
        throw error;
      }
    };
  }

  @Test
  void aNewDiskIsBuiltOncePolledAtPollMinAndThenLookedAtEveryReadyRecheck() {
    AgentDriver.Step first = drive(GI);
    assertThat(first.outcome()).isInstanceOf(Outcome.Working.class);
    assertThat(((Outcome.Working) first.outcome()).state().phase())
        .isEqualTo(DiskState.Phase.Building);
    assertThat(first.recheck()).isEqualTo(POLL);

    AgentDriver.Step polled = drive(GI);
    assertThat(polled.outcome()).isInstanceOf(Outcome.Working.class);
    assertThat(polled.recheck()).isEqualTo(POLL);

    AgentDriver.Step ready = buildToReady(GI);
    assertThat(((Outcome.Done) ready.outcome()).state().capacityBytes()).isEqualTo(GI);
    assertThat(ready.recheck()).isEqualTo(READY_RECHECK);

    assertThat(drive(GI).outcome()).isInstanceOf(Outcome.Done.class);
    assertThat(fake.builds).as("GETs only once the image exists: one build").hasValue(1);
  }

  @Test
  void aBuildQueuedBehindOthersIsPolledLessAndLessOftenUntilTheAgentStartsIt() {
    disk.getMetadata().setUid("u"); // the uid of StatusBuilderTest's agent states
    DiskState[] answer = {StatusBuilderTest.building(DiskState.STAGE_QUEUED, 0)};
    agent =
        new AgentClient() {
          @Override
          public NodeInfo node() {
            return fake.node();
          }

          @Override
          public DiskState putDisk(String ns, String name, PutDiskRequest request) {
            return answer[0];
          }

          @Override
          public Optional<DiskState> getDisk(String ns, String name) {
            return Optional.of(answer[0]);
          }

          @Override
          public void deleteDisk(String ns, String name, String uid) {}

          @Override
          public void releaseDisk(String ns, String name, String uid) {}
        };
    List<Duration> polls = new ArrayList<>();
    for (int i = 0; i < 4; i++) polls.add(drive(GI).recheck());
    assertThat(polls)
        .containsExactly(
            POLL, Duration.ofMillis(100), Duration.ofMillis(200), Duration.ofMillis(200));
    answer[0] = StatusBuilderTest.building("Format", 10);
    assertThat(drive(GI).recheck()).as("started: it ends within seconds").isEqualTo(POLL);
  }

  @Test
  void aFailedBuildWaitsForItsRetryWithoutCallingPutAndEachFailureWaitsLonger() {
    fake.failNextBuild(ErrorCodes.NO_SPACE, "the images root is full");
    AgentDriver.Step failed = drive(GI);
    assertThat(failed.outcome())
        .isEqualTo(new Outcome.Failed(ErrorCodes.NO_SPACE, "the images root is full"));
    assertThat(failed.recheck()).isEqualTo(RETRY);

    clock.advance(Duration.ofMillis(40));
    AgentDriver.Step early = drive(GI);
    assertThat(early.outcome())
        .as("the failure's outcome, held until its retry is due")
        .isEqualTo(failed.outcome());
    assertThat(early.recheck())
        .as("the time left, not a new delay")
        .isEqualTo(Duration.ofMillis(60));
    assertThat(fake.builds).hasValue(1);

    clock.advance(Duration.ofMillis(60));
    fake.failNextBuild(ErrorCodes.NO_SPACE, "the images root is full");
    AgentDriver.Step again = drive(GI);
    assertThat(fake.builds).as("retried when due").hasValue(2);
    assertThat(again.recheck())
        .as("second failure: twice retryMin")
        .isEqualTo(Duration.ofMillis(200));

    clock.advance(again.recheck());
    assertThat(drive(GI).outcome()).as("third attempt builds").isInstanceOf(Outcome.Working.class);
    buildToReady(GI);

    fake.stop();
    assertThat(drive(GI).recheck()).as("a Ready image reset the ladder").isEqualTo(RETRY);
  }

  @Test
  void aDeletedDom0NodeLeavesTheDiskOnItSayingSoAndRetriesWithoutCallingAnyAgent() {
    nodes.clear();
    agent = MUST_NOT_BE_CALLED;
    AgentDriver.Step step = drive(GI);
    assertThat(step.outcome())
        .isEqualTo(
            new Outcome.Unreachable(
                Reasons.NODE_DELETED,
                "Dom0Node a no longer exists: the image stays on a and this disk is not moved to"
                    + " another node. If the agent there still runs, it registers the node again"
                    + " within a heartbeat and the disk turns Ready by itself; start it if it does"
                    + " not"));
    assertThat(step.recheck()).isEqualTo(RETRY);
    assertThat(drive(GI).recheck()).isEqualTo(Duration.ofMillis(200));
  }

  @Test
  void aNodeWhoseHeartbeatStoppedIsNotCalledAndTheDiskSaysItIsLostSinceWhen() {
    nodes.set(0, Fixtures.node("a", 100 * GI, 0, 8, 1, false, NOW.minusSeconds(31), 10));
    agent = MUST_NOT_BE_CALLED;
    AgentDriver.Step step = drive(GI);
    assertThat(step.outcome())
        .isEqualTo(
            new Outcome.Unreachable(
                Reasons.NODE_LOST,
                "dom0 node a is lost: no heartbeat from its agent since "
                    + NOW.minusSeconds(31)
                    + " (it heartbeats every 10s); the image stays on a and this disk is not"
                    + " moved to another node. Check that the xenvbd agent runs on a and reaches"
                    + " the API server; the disk turns Ready by itself when it heartbeats again"));
    assertThat(step.recheck()).isEqualTo(RETRY);
  }

  @Test
  void anAgentThatCannotBeReachedTurnsTheDiskUnreachableAndBacksOff() {
    fake.stop();
    AgentDriver.Step step = drive(GI);
    assertThat(step.outcome())
        .isEqualTo(
            new Outcome.Unreachable(
                Reasons.NODE_UNREACHABLE,
                "dom0 node a: agent at fake://a is unreachable: Connection refused"));
    assertThat(step.recheck()).isEqualTo(RETRY);
    AgentDriver.Step woken = drive(GI);
    assertThat(woken.outcome()).as("woken before the retry is due: held").isEqualTo(step.outcome());
    assertThat(woken.recheck()).isEqualTo(RETRY);
    clock.advance(RETRY);
    assertThat(drive(GI).recheck())
        .as("retried when due, and failed again")
        .isEqualTo(Duration.ofMillis(200));
  }

  @Test
  void wakesBeforeTheRetryIsDueDoNotCallTheAgentButASpecEditOrARecoveredNodeDoes() {
    int[] calls = {0};
    AgentException refused =
        new AgentException(ErrorCodes.UNAUTHORIZED, 401, "the bearer token is not this node's");
    agent =
        new AgentClient() {
          @Override
          public NodeInfo node() {
            return fake.node();
          }

          @Override
          public DiskState putDisk(String ns, String name, PutDiskRequest request) {
            calls[0]++;
            throw refused;
          }

          @Override
          public Optional<DiskState> getDisk(String ns, String name) {
            calls[0]++;
            throw refused;
          }

          @Override
          public void deleteDisk(String ns, String name, String uid) {}

          @Override
          public void releaseDisk(String ns, String name, String uid) {}
        };
    disk.getMetadata().setGeneration(1L);
    AgentDriver.Step failed = drive(GI);
    assertThat(calls[0]).isEqualTo(1);
    // A heartbeat every 10 ms (the Dom0Node informer wakes every disk on the node that is not
    // Ready): none reaches the agent before the 100 ms retry is due.
    for (int i = 0; i < 9; i++) {
      clock.advance(Duration.ofMillis(10));
      AgentDriver.Step woken = drive(GI);
      assertThat(woken.outcome()).isEqualTo(failed.outcome());
      assertThat(woken.recheck()).isEqualTo(Duration.ofMillis(100 - 10 * (i + 1)));
    }
    assertThat(calls[0]).as("one call per backoff step, not one per wake").isEqualTo(1);
    clock.advance(Duration.ofMillis(10));
    assertThat(drive(GI).recheck()).isEqualTo(Duration.ofMillis(200));
    assertThat(calls[0]).as("retried when due").isEqualTo(2);

    disk.getMetadata().setGeneration(2L);
    drive(GI);
    assertThat(calls[0]).as("a spec edit is tried at once").isEqualTo(3);

    nodes.set(0, Fixtures.node("a", 100 * GI, 0, 8, 1, false, NOW.minusSeconds(31), 10));
    drive(GI);
    assertThat(calls[0]).as("a node that missed its heartbeats is not called").isEqualTo(3);
    nodes.set(0, node(100 * GI));
    drive(GI);
    assertThat(calls[0]).as("its heartbeat back, the disk is tried at once").isEqualTo(4);
  }

  @Test
  void aBusyAgentIsTransientNotAFailedDisk() {
    agent =
        answeringGetWith(
            new AgentException(ErrorCodes.BUSY, 503, "too many requests: try again shortly"));
    AgentDriver.Step step = drive(GI);
    assertThat(step.outcome())
        .isEqualTo(
            new Outcome.Unreachable(
                Reasons.NODE_UNREACHABLE, "dom0 node a: too many requests: try again shortly"));
    assertThat(step.recheck()).isEqualTo(RETRY);
  }

  @Test
  void anyOtherAgentErrorFailsTheDiskWithTheAgentsCodeAndMessage() {
    agent =
        answeringGetWith(
            new AgentException(
                ErrorCodes.UNAUTHORIZED, 401, "the bearer token is not this node's"));
    AgentDriver.Step step = drive(GI);
    assertThat(step.outcome())
        .isEqualTo(
            new Outcome.Failed(ErrorCodes.UNAUTHORIZED, "the bearer token is not this node's"));
    assertThat(step.recheck()).isEqualTo(RETRY);
  }

  @Test
  void anImageOwnedByAnotherVirtualDiskIsNeitherAdoptedNorTouched() {
    fake.putDisk(
        "ns", "d", new PutDiskRequest("uid-other", AgentRequests.toWire(disk.getSpec(), null)));
    AgentDriver.Step step = drive(GI);
    assertThat(step.outcome())
        .isEqualTo(
            new Outcome.Failed(
                ErrorCodes.NOT_OWNER, "image ns/d belongs to VirtualDisk uid uid-other"));
    assertThat(fake.builds).hasValue(1);
  }

  @Test
  void aGrowTheNodeHasRoomForIsSentToTheAgentAndPolledUntilTheImageHasTheNewSize() {
    buildToReady(GI);
    disk.setSpec(Fixtures.disk("ns", "d", "2Gi").getSpec());
    AgentDriver.Step step = drive(2 * GI);
    assertThat(((Outcome.Working) step.outcome()).state().phase())
        .isEqualTo(DiskState.Phase.Resizing);
    assertThat(step.recheck()).isEqualTo(POLL);
    AgentDriver.Step grown = buildToReady(2 * GI);
    assertThat(((Outcome.Done) grown.outcome()).state().capacityBytes()).isEqualTo(2 * GI);
  }

  @Test
  void aGrowBeyondTheNodesRoomIsRefusedAndTheImageStaysUsableAtItsSize() {
    nodes.set(0, node(2 * GI));
    buildToReady(GI);
    disk.setSpec(Fixtures.disk("ns", "d", "10Gi").getSpec());
    AgentDriver.Step step = drive(10 * GI);
    var refused = (Outcome.GrowRefused) step.outcome();
    assertThat(refused.reason()).isEqualTo(Reasons.INSUFFICIENT_STORAGE);
    assertThat(refused.message())
        .startsWith(
            "growing the image from 1Gi to 10Gi is refused: Dom0Node a has 2Gi left"
                + " to promise")
        .contains("and this needs 10Gi", "stays usable at 1Gi");
    assertThat(refused.state().capacityBytes()).isEqualTo(GI);
    assertThat(step.recheck())
        .as("looked at like a Ready disk; a change of the node wakes it")
        .isEqualTo(READY_RECHECK);
    assertThat(fake.capacity("ns", "d")).as("nothing sent to the agent").isEqualTo(GI);
  }

  @Test
  void aFirstBuildAtASizeTheNodeCannotHoldIsRefusedBeforeAnyFileIsMade() {
    nodes.set(0, node(2 * GI));
    disk.setSpec(Fixtures.disk("ns", "d", "10Gi").getSpec());
    AgentDriver.Step step = drive(10 * GI);
    var refused = (Outcome.Unschedulable) step.outcome();
    assertThat(refused.reason()).isEqualTo(Reasons.INSUFFICIENT_STORAGE);
    assertThat(refused.message())
        .startsWith("building the image at spec.size 10Gi is refused: Dom0Node a has 2Gi left");
    assertThat(step.recheck()).isEqualTo(READY_RECHECK);
    assertThat(fake.builds).hasValue(0);
  }

  @Test
  void whileADiskBuildsItsStateIsAskedWithAWaitAndAnAnswerHeldToItsEndIsAskedForAgainAtOnce() {
    List<Duration> waits = new ArrayList<>();
    agent = recordingWaits(waits);
    AgentDriver.Step first = drive(GI);
    assertThat(first.outcome()).isInstanceOf(Outcome.Working.class);
    assertThat(waits)
        .as("a disk not yet Provisioning is asked without a wait")
        .containsOnly(Duration.ZERO);

    provisioning();
    waits.clear();
    AgentDriver.Step held = drive(GI);
    assertThat(waits).containsExactly(AgentDriver.WAIT_FOR_END);
    assertThat(held.outcome()).isInstanceOf(Outcome.Working.class);
    assertThat(held.recheck()).as("asked again at once").isLessThan(POLL);
  }

  @Test
  void whereTheNodeTellsOfEachEndABuildIsAskedWithoutAWaitAndPolledOnlyForItsProgress() {
    endsLive = true;
    AgentDriver shipped = driver(OperatorConfig.inProcess());
    List<Duration> waits = new ArrayList<>();
    agent = recordingWaits(waits);
    AgentDriver.Step first = shipped.drive(disk, "a", GI);
    assertThat(first.outcome()).isInstanceOf(Outcome.Working.class);
    provisioning();
    long asked = System.nanoTime();
    AgentDriver.Step polled = shipped.drive(disk, "a", GI);
    assertThat(waits)
        .as("no reconcile waits on the agent: the end wakes the disk")
        .containsOnly(Duration.ZERO);
    assertThat(Duration.ofNanos(System.nanoTime() - asked)).isLessThan(AgentDriver.WAIT_FOR_END);
    assertThat(polled.outcome()).isInstanceOf(Outcome.Working.class);
    assertThat(polled.recheck()).as("its progress, once a second").isEqualTo(Duration.ofSeconds(1));

    endsLive = false;
    waits.clear();
    shipped.drive(disk, "a", GI);
    assertThat(waits)
        .as("the node's ends lost: waited on again")
        .containsExactly(AgentDriver.WAIT_FOR_END);
  }

  /** The disk as its status says once its build was asked for: Provisioning on node a. */
  void provisioning() {
    disk.setStatus(
        new VirtualDiskStatus(
            VirtualDiskStatus.Phase.Provisioning,
            1L,
            "a",
            null,
            null,
            null,
            null,
            null,
            null,
            null,
            null,
            null,
            List.of()));
  }

  /** The fake node, except that each GET records its wait and lasts it (a build outlasting it). */
  AgentClient recordingWaits(List<Duration> waits) {
    return new ForwardingAgent(fake) {
      @Override
      public Optional<DiskState> getDisk(String ns, String name) {
        return getDisk(ns, name, Duration.ZERO);
      }

      @Override
      public Optional<DiskState> getDisk(String ns, String name, Duration wait) {
        waits.add(wait);
        try {
          Thread.sleep(wait.toMillis()); // an agent whose build outlasts the wait
        } catch (InterruptedException e) {
          throw new AssertionError(e);
        }
        return fake.getDisk(ns, name);
      }
    };
  }
}
