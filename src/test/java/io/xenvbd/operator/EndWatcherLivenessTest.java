package io.xenvbd.operator;

import static org.assertj.core.api.Assertions.assertThat;
import static org.awaitility.Awaitility.await;

import io.fabric8.kubernetes.client.KubernetesClientException;
import io.javaoperatorsdk.operator.processing.event.ResourceID;
import io.xenvbd.api.Dom0Node;
import io.xenvbd.api.VirtualDisk;
import io.xenvbd.protocol.OperationEnds;
import java.time.Duration;
import java.util.List;
import java.util.concurrent.ArrayBlockingQueue;
import java.util.concurrent.BlockingQueue;
import java.util.concurrent.CopyOnWriteArrayList;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Test;

/**
 * When the operator may rely on a node's {@code GET /v1/ends} for the ends of its builds (and so
 * stop waiting on and polling them): only while that long-poll answers. Each call of the scripted
 * agent takes the next answer from a queue (an exception is thrown), and waits there as an agent
 * holding the call would.
 */
class EndWatcherLivenessTest {
  final BlockingQueue<Object> answers = new ArrayBlockingQueue<>(10);
  final List<ResourceID> woken = new CopyOnWriteArrayList<>();
  final List<Dom0Node> nodes = new CopyOnWriteArrayList<>(List.of(Fixtures.node("a", 1L << 40, 0)));
  final EndWatcher watcher =
      new EndWatcher(
          ClusterView.of(nodes, List.<VirtualDisk>of()),
          (node, endpoint) -> new Scripted(),
          woken::add,
          () -> true);

  @AfterEach
  void close() {
    watcher.close();
  }

  @Test
  void aNodeIsLiveFromItsFirstAnswerUntilItsLongPollFails() throws Exception {
    watcher.sync();
    assertThat(watcher.live("a")).as("asked, not answered yet").isFalse();

    answers.put(new OperationEnds("e1", 1, true, List.of(new OperationEnds.Ended("ns", "d", "u"))));
    await().atMost(Duration.ofSeconds(5)).until(() -> watcher.live("a"));
    assertThat(woken).containsExactly(new ResourceID("d", "ns"));
    assertThat(watcher.live("b")).as("a node that is not watched").isFalse();

    answers.put(new KubernetesClientException("connection refused"));
    await().atMost(Duration.ofSeconds(5)).until(() -> !watcher.live("a"));

    answers.put(new OperationEnds("e1", 1, true, List.of()));
    await().atMost(Duration.ofSeconds(5)).until(() -> watcher.live("a"));

    nodes.clear(); // the Dom0Node went: its watch stops
    watcher.sync();
    await().atMost(Duration.ofSeconds(5)).until(() -> !watcher.live("a"));
  }

  /** An agent whose every ends call takes the next scripted answer, waiting for one. */
  private final class Scripted extends ForwardingAgent {
    Scripted() {
      super(AgentDriverTest.MUST_NOT_BE_CALLED);
    }

    @Override
    public OperationEnds ends(String epoch, long after, Duration wait) {
      Object next;
      try {
        next = answers.take();
      } catch (InterruptedException e) {
        Thread.currentThread().interrupt();
        throw new KubernetesClientException("interrupted");
      }
      if (next instanceof RuntimeException e) throw e;
      return (OperationEnds) next;
    }
  }
}
