package io.xenvbd.agent;

import io.fabric8.kubernetes.api.model.ObjectMetaBuilder;
import io.fabric8.kubernetes.client.KubernetesClient;
import io.fabric8.kubernetes.client.KubernetesClientException;
import io.xenvbd.api.BuildInfo;
import io.xenvbd.api.Conditions;
import io.xenvbd.api.Dom0Node;
import io.xenvbd.api.Dom0NodeSpec;
import io.xenvbd.api.Dom0NodeStatus;
import io.xenvbd.api.Reasons;
import io.xenvbd.disk.DiskEngine;
import java.net.URI;
import java.time.Clock;
import java.time.Duration;
import java.time.Instant;
import java.time.temporal.ChronoUnit;
import java.util.concurrent.Executors;
import java.util.concurrent.RejectedExecutionException;
import java.util.concurrent.ScheduledExecutorService;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicBoolean;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * Creates this node's Dom0Node once and then writes only its status, every heartbeat. The spec
 * belongs to admins (unschedulable, overcommitRatio) and is never written after creation.
 */
final class NodeRegistrar implements AutoCloseable {
  private static final Logger LOG = LoggerFactory.getLogger(NodeRegistrar.class);

  private final KubernetesClient client;
  private final String nodeName;
  private final URI endpoint;
  private final Duration every;
  private final DiskEngine engine;
  private final int protocolVersion;
  private final Clock clock = Clock.systemUTC();
  private final ScheduledExecutorService timer =
      Executors.newSingleThreadScheduledExecutor(
          r -> {
            Thread t = new Thread(r, "xenvbd-heartbeat");
            t.setDaemon(true);
            return t;
          });

  NodeRegistrar(
      KubernetesClient client,
      String nodeName,
      URI endpoint,
      Duration every,
      DiskEngine engine,
      int protocolVersion) {
    this.protocolVersion = protocolVersion;
    this.client = client;
    this.nodeName = nodeName;
    this.endpoint = endpoint;
    this.every = every;
    this.engine = engine;
  }

  void start() {
    timer.scheduleWithFixedDelay(this::beatQuietly, 0, every.toMillis(), TimeUnit.MILLISECONDS);
  }

  /** How soon after a freeing change {@link #soon} beats: the deletes of a fleet share one beat. */
  static final Duration SOON = Duration.ofMillis(500);

  private final AtomicBoolean soonPending = new AtomicBoolean();

  /**
   * An extra heartbeat within {@link #SOON}, coalesced with any already due: after an image is
   * deleted, so that disks waiting for room on this node (InsufficientStorage) see it freed now,
   * not up to a whole heartbeat later. The node's status is what the operator's placement reads.
   */
  void soon() {
    if (!soonPending.compareAndSet(false, true)) return;
    try {
      timer.schedule(
          () -> {
            soonPending.set(false); // a delete during this beat asks for another one
            beatQuietly();
          },
          SOON.toMillis(),
          TimeUnit.MILLISECONDS);
    } catch (RejectedExecutionException e) {
      // closed: no more beats
    }
  }

  private void beatQuietly() {
    try {
      beat();
    } catch (RuntimeException e) {
      // The API server may be briefly away; the next beat tries again and the operator sees the
      // gap.
      LOG.warn("heartbeat of Dom0Node {} failed: {}", nodeName, e.getMessage());
    }
  }

  /**
   * One heartbeat: create the Dom0Node if missing, then replace its status, Ready=True included (so
   * it also replaces the operator's Unknown). The replace carries the resourceVersion it read: when
   * the operator's Ready=Unknown landed in between (409), it reads again and replaces once more, so
   * a heartbeat never loses to that write.
   */
  void beat() {
    NodeReport report = NodeReport.read(nodeName, engine);
    try {
      replaceStatus(report);
    } catch (KubernetesClientException e) {
      if (e.getCode() != 409) throw e;
      replaceStatus(report);
    }
  }

  private void replaceStatus(NodeReport report) {
    var resource = client.resources(Dom0Node.class).withName(nodeName);
    Dom0Node node = resource.get();
    if (node == null) node = create();
    Dom0NodeStatus old = node.getStatus();
    String now = Instant.now(clock).truncatedTo(ChronoUnit.SECONDS).toString();
    Dom0NodeStatus status =
        new Dom0NodeStatus(
            // the protocol version, so that the operator sends this agent only what it knows
            new Dom0NodeStatus.Agent(
                endpoint.toString(),
                BuildInfo.version(),
                now,
                (int) every.toSeconds(),
                protocolVersion),
            report.loopDevices(),
            report.storage(),
            report.images().size(),
            report.orphans(),
            Conditions.set(
                old == null ? null : old.conditions(),
                Conditions.READY,
                Conditions.TRUE,
                Reasons.HEARTBEAT,
                "agent " + BuildInfo.version() + " at " + endpoint + " is serving",
                node.getMetadata().getGeneration(),
                clock),
            report.released(),
            report.releasedCount()); // the most recently released first
    node.setStatus(status);
    client.resource(node).updateStatus();
  }

  private Dom0Node create() {
    Dom0Node node = new Dom0Node();
    node.setMetadata(new ObjectMetaBuilder().withName(nodeName).build());
    node.setSpec(new Dom0NodeSpec(null, null));
    try {
      Dom0Node created = client.resource(node).create();
      LOG.info("registered Dom0Node {}", nodeName);
      return created;
    } catch (KubernetesClientException e) {
      if (e.getCode() != 409) throw e;
      return client.resources(Dom0Node.class).withName(nodeName).get();
    }
  }

  @Override
  public void close() {
    timer.shutdownNow();
  }
}
