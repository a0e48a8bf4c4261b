package io.xenvbd.operator;

import io.fabric8.kubernetes.api.model.Condition;
import io.fabric8.kubernetes.client.KubernetesClient;
import io.xenvbd.api.Conditions;
import io.xenvbd.api.Dom0Node;
import io.xenvbd.api.Reasons;
import java.time.Clock;
import java.time.Duration;
import java.time.Instant;
import java.util.HashSet;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.Set;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.Executors;
import java.util.concurrent.ScheduledExecutorService;
import java.util.concurrent.TimeUnit;
import java.util.function.BooleanSupplier;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * The one writer of a Dom0Node's {@code Ready=Unknown}: the leader, on a timer (a dead agent sends
 * no event), turns it Unknown with reason {@code HeartbeatMissed} once the agent missed {@value
 * NodeHealth#MISSED_HEARTBEATS} heartbeats. The agent's next heartbeat replaces the whole status,
 * and so writes True again; this class never writes True.
 *
 * <p>It never fights the agent and never flaps a live node: the patch carries the resourceVersion
 * of the status it judged, so a heartbeat that landed meanwhile makes it fail with 409 (and the
 * next sweep sees the fresh heartbeat); and a node counts as lost only when both its lastHeartbeat
 * (by this process's clock) and the time this process last saw that value change are older than the
 * grace, so an agent whose clock runs behind but which heartbeats is never marked lost.
 */
final class NodeWatch implements AutoCloseable {
  /** How often the informer cache is looked at: cheap (no request unless a node is lost). */
  static final Duration SWEEP = Duration.ofSeconds(1);

  private static final Logger LOG = LoggerFactory.getLogger(NodeWatch.class);

  private record Seen(String heartbeat, Instant at) {}

  private final KubernetesClient client;
  private final ClusterView cluster;
  private final BooleanSupplier leader;
  private final Clock clock;
  private final Map<String, Seen> seen = new ConcurrentHashMap<>();
  private final ScheduledExecutorService timer =
      Executors.newSingleThreadScheduledExecutor(
          r -> {
            Thread t = new Thread(r, "xenvbd-node-watch");
            t.setDaemon(true);
            return t;
          });

  NodeWatch(KubernetesClient client, ClusterView cluster, BooleanSupplier leader, Clock clock) {
    this.client = client;
    this.cluster = cluster;
    this.leader = leader;
    this.clock = clock;
  }

  void start() {
    timer.scheduleWithFixedDelay(this::sweepQuietly, 0, SWEEP.toMillis(), TimeUnit.MILLISECONDS);
  }

  private void sweepQuietly() {
    try {
      sweep();
    } catch (RuntimeException e) {
      LOG.warn("checking the Dom0Nodes' heartbeats: {}", e.getMessage());
    }
  }

  /** One look at every node; patches those newly lost. */
  void sweep() {
    List<Dom0Node> nodes = cluster.nodes();
    Set<String> names = new HashSet<>();
    for (Dom0Node node : nodes) {
      names.add(node.getMetadata().getName());
      check(node);
    }
    seen.keySet().retainAll(names);
  }

  private void check(Dom0Node node) {
    String name = node.getMetadata().getName();
    Instant now = Instant.now(clock);
    String heartbeat =
        node.getStatus() == null || node.getStatus().agent() == null
            ? null
            : node.getStatus().agent().lastHeartbeat();
    if (heartbeat == null) return; // never registered: nothing to judge, no Ready to turn
    Seen last =
        seen.compute(
            name,
            (k, v) -> v != null && v.heartbeat().equals(heartbeat) ? v : new Seen(heartbeat, now));
    Optional<Instant> since = NodeHealth.missedSince(node, clock);
    if (since.isEmpty()) return;
    // this process saw the value change within the grace: the agent heartbeats, its clock is behind
    if (Duration.between(last.at(), now).compareTo(NodeHealth.grace(node)) <= 0) return;
    if (!leader.getAsBoolean()) return;
    String message = message(node, since.get());
    Optional<Condition> ready = Conditions.find(node.getStatus().conditions(), Conditions.READY);
    if (ready.isPresent()
        && Conditions.UNKNOWN.equals(ready.get().getStatus())
        && message.equals(ready.get().getMessage())) return;
    List<Condition> conditions =
        Conditions.set(
            node.getStatus().conditions(),
            Conditions.READY,
            Conditions.UNKNOWN,
            Reasons.HEARTBEAT_MISSED,
            message,
            node.getMetadata().getGeneration(),
            clock);
    write(node, conditions);
  }

  /** Through {@link NodeConditions}: a heartbeat (or a deletion) that got there first wins. */
  private void write(Dom0Node node, List<Condition> conditions) {
    String name = node.getMetadata().getName();
    if (NodeConditions.write(client, node, conditions)) {
      LOG.warn("Dom0Node {}: {}", name, message(node, NodeHealth.lastHeartbeat(node)));
    } else {
      // the next sweep judges the new state
      LOG.debug("Dom0Node {} changed before Ready=Unknown could be written", name);
    }
  }

  /** Stable while the node stays lost: the time of the last heartbeat, never its age. */
  static String message(Dom0Node node, Instant since) {
    String name = node.getMetadata().getName();
    int seconds = NodeHealth.heartbeatSeconds(node);
    return "no heartbeat from the xenvbd agent of "
        + name
        + " since "
        + since
        + " (it heartbeats every "
        + seconds
        + "s; Ready turns Unknown after "
        + NodeHealth.MISSED_HEARTBEATS
        + " missed): check that the agent pod on "
        + name
        + " runs (kubectl get pods -o wide -l app.kubernetes.io/component=agent in the release"
        + " namespace) and that its log shows no error reaching the API server; Ready turns True"
        + " by itself at its next heartbeat";
  }

  @Override
  public void close() {
    timer.shutdownNow();
  }
}
