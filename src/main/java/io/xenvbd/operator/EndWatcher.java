package io.xenvbd.operator;

import io.javaoperatorsdk.operator.processing.event.ResourceID;
import io.xenvbd.api.Dom0Node;
import io.xenvbd.protocol.AgentClient;
import io.xenvbd.protocol.AgentClientFactory;
import io.xenvbd.protocol.OperationEnds;
import io.xenvbd.protocol.Protocol;
import java.time.Duration;
import java.util.Map;
import java.util.Set;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.Future;
import java.util.concurrent.ScheduledExecutorService;
import java.util.concurrent.TimeUnit;
import java.util.function.BooleanSupplier;
import java.util.function.Consumer;
import java.util.stream.Collectors;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * One long-poll per node agent of protocol 8 or later ({@code GET /v1/ends}): when a build, resize
 * or move ends there, the disk is reconciled at once. Without it, a disk that waits in the agent's
 * queue learns of its end at its next poll or the node's next heartbeat (up to 1.5 s after the end
 * in a fleet of 50 clones, measured 2 Dec 2026); a disk whose build runs still has its waiting GET.
 * An answer that is not complete (the agent restarted, or more ended than it keeps) wakes every
 * disk waiting on the node, as a heartbeat does. Runs on the leader only; polls and heartbeats stay
 * as the safety net.
 *
 * <p>While a node's long-poll answers ({@link #live}), the operator relies on it for the ends of
 * that node's builds: their polls only refresh progress, and no reconcile waits on the agent for an
 * end ({@link AgentDriver}). A node whose long-poll fails, or has not answered within {@link #WAIT}
 * and a grace, is not live and its disks are polled as fast as before.
 */
final class EndWatcher implements AutoCloseable {
  private static final Logger LOG = LoggerFactory.getLogger(EndWatcher.class);

  /** How long each call may wait on the agent for an end. */
  static final Duration WAIT = Duration.ofSeconds(8);

  /** Beyond {@link #WAIT}, how long an answer may be late before the node is no longer live. */
  static final Duration LATE = Duration.ofSeconds(2);

  private final ClusterView cluster;
  private final AgentClientFactory agents;
  private final Consumer<ResourceID> wake;
  private final BooleanSupplier leader;
  private final Map<String, Watch> watches = new ConcurrentHashMap<>();

  /** Per node, when its long-poll last answered (System.nanoTime); absent after a failure. */
  private final Map<String, Long> answered = new ConcurrentHashMap<>();

  private final ScheduledExecutorService sync =
      Executors.newSingleThreadScheduledExecutor(daemon("xenvbd-ends"));
  private final ExecutorService loops = Executors.newCachedThreadPool(daemon("xenvbd-ends-node"));
  private volatile boolean closed;

  /** One node's loop: the endpoint it asks, and its task. */
  private record Watch(String endpoint, Future<?> task) {}

  EndWatcher(
      ClusterView cluster,
      AgentClientFactory agents,
      Consumer<ResourceID> wake,
      BooleanSupplier leader) {
    this.cluster = cluster;
    this.agents = agents;
    this.wake = wake;
    this.leader = leader;
  }

  void start() {
    sync.scheduleWithFixedDelay(this::sync, 0, 1, TimeUnit.SECONDS);
  }

  /** Starts a loop for every node that has none and speaks protocol 8; stops those of the rest. */
  void sync() {
    try {
      Map<String, String> want =
          agents == null || !leader.getAsBoolean() || closed
              ? Map.of()
              : cluster.nodes().stream()
                  .filter(n -> AgentRequests.agentVersion(n) >= Protocol.ENDS_SINCE)
                  .filter(n -> endpoint(n) != null)
                  .collect(
                      Collectors.toMap(
                          n -> n.getMetadata().getName(), EndWatcher::endpoint, (a, b) -> a));
      watches.forEach(
          (node, w) -> {
            // another endpoint, no longer wanted, or a loop that ended (an Error): started anew
            if (!w.endpoint().equals(want.get(node)) || w.task().isDone()) {
              w.task().cancel(true);
              watches.remove(node, w);
            }
          });
      want.forEach(
          (node, endpoint) ->
              watches.computeIfAbsent(
                  node, n -> new Watch(endpoint, loops.submit(() -> loop(n, endpoint)))));
    } catch (RuntimeException e) {
      LOG.error("starting the watches of the agents' ends", e); // never stop the schedule
    }
  }

  private static String endpoint(Dom0Node n) {
    return n.getStatus() == null || n.getStatus().agent() == null
        ? null
        : n.getStatus().agent().endpoint();
  }

  /**
   * Whether the ends of this node's operations reach the operator now: its long-poll answered (not
   * failed) within the last {@link #WAIT} and {@link #LATE}, and still runs.
   */
  boolean live(String node) {
    Long at = answered.get(node);
    return at != null && System.nanoTime() - at < WAIT.plus(LATE).toNanos();
  }

  private void loop(String node, String endpoint) {
    try {
      ask(node, endpoint);
    } finally {
      answered.remove(node);
    }
  }

  private void ask(String node, String endpoint) {
    String epoch = "";
    long after = 0;
    long pause = 0;
    while (!closed && !Thread.currentThread().isInterrupted()) {
      try {
        if (pause > 0) Thread.sleep(pause);
        AgentClient agent = agents.forNode(node, endpoint);
        long asked = System.nanoTime();
        OperationEnds ends = agent.ends(epoch, after, WAIT);
        if (ends == null) {
          // a client that cannot ask: keep the watch, idle, so that sync does not restart it
          Thread.sleep(Long.MAX_VALUE);
          return;
        }
        // before the wakes: a disk woken now must not see the node as not live and wait on it
        answered.put(node, System.nanoTime());
        if (ends.complete()) {
          for (OperationEnds.Ended e : ends.ended())
            wake.accept(new ResourceID(e.name(), e.namespace()));
        } else {
          cluster
              .node(node)
              .ifPresent(n -> InformerClusterView.waitingOn(n, cluster.disks()).forEach(wake));
        }
        epoch = ends.epoch();
        after = ends.seq();
        // an answer before the wait was over with nothing in it: the agent had no room to wait
        boolean early =
            ends.complete()
                && ends.ended().isEmpty()
                && System.nanoTime() - asked < WAIT.toNanos() / 2;
        pause = early ? 500 : 0;
      } catch (InterruptedException e) {
        return;
      } catch (RuntimeException e) {
        answered.remove(node);
        pause = Math.min(Math.max(pause * 2, 500), 10_000);
        // once per run of failures at warn: an agent whose Dom0Node claims a protocol it does not
        // serve, say; its disks are polled meanwhile
        if (pause == 500) LOG.warn("asking the agent of {} for its ends: {}", node, e.toString());
        else LOG.debug("asking the agent of {} for its ends: {}", node, e.toString());
      } catch (Error e) {
        LOG.error("the watch of the ends of {} stopped; it starts anew within a second", node, e);
        throw e;
      }
    }
  }

  /** The nodes watched now (for tests). */
  Set<String> watched() {
    return Set.copyOf(watches.keySet());
  }

  @Override
  public void close() {
    closed = true;
    sync.shutdownNow();
    loops.shutdownNow();
  }

  private static java.util.concurrent.ThreadFactory daemon(String name) {
    return r -> {
      Thread t = new Thread(r, name);
      t.setDaemon(true);
      return t;
    };
  }
}
