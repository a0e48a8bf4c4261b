package io.xenvbd.operator;

import io.fabric8.kubernetes.client.KubernetesClient;
import io.fabric8.kubernetes.client.extended.leaderelection.LeaderCallbacks;
import io.javaoperatorsdk.operator.Operator;
import io.javaoperatorsdk.operator.api.config.LeaderElectionConfiguration;
import io.javaoperatorsdk.operator.processing.event.source.inbound.SimpleInboundEventSource;
import io.xenvbd.api.VirtualDisk;
import io.xenvbd.protocol.AgentClientFactory;
import io.xenvbd.protocol.Protocol;
import java.io.IOException;
import java.io.UncheckedIOException;
import java.time.Clock;
import java.util.List;
import java.util.concurrent.Executors;
import java.util.concurrent.ScheduledExecutorService;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicBoolean;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * The running operator: wires the reconciler's collaborators by constructor, starts
 * java-operator-sdk and the management server. Local mode and tests start it in-process; {@link
 * OperatorCommand} starts it for the Deployment.
 */
public final class XenvbdOperator implements AutoCloseable {
  static final String FIELD_MANAGER = "xenvbd-operator";
  private static final Logger LOG = LoggerFactory.getLogger(XenvbdOperator.class);

  private final Operator operator;
  private final ManagementServer management;
  private final OperatorMetrics metrics;
  private final NodeWatch nodeWatch;
  private final EndWatcher endWatcher;
  private final AtomicBoolean leader = new AtomicBoolean();
  private final AtomicBoolean stopped = new AtomicBoolean();

  /** Writes each draining Dom0Node's Drained condition, on the leader only. */
  private final ScheduledExecutorService drains =
      Executors.newSingleThreadScheduledExecutor(
          r -> {
            Thread t = new Thread(r, "xenvbd-drain-report");
            t.setDaemon(true);
            return t;
          });

  private XenvbdOperator(
      KubernetesClient client,
      OperatorConfig config,
      AgentClientFactory agents,
      Clock clock,
      Protocol protocol) {
    this.metrics = new OperatorMetrics();
    metrics.credentialProblems(() -> agents == null ? List.of() : agents.credentialProblems());
    InformerClusterView cluster = new InformerClusterView();
    this.nodeWatch = new NodeWatch(client, cluster, leader::get, clock);
    Backoffs backoffs = new Backoffs(config, clock);
    EventRecorder recorder = new EventRecorder(client, clock, metrics, config.identity());
    StatusBuilder statuses = new StatusBuilder(clock);
    Placer placer = new Placer(cluster, clock);
    SimpleInboundEventSource<VirtualDisk> ends = new SimpleInboundEventSource<>("agent-ends");
    this.endWatcher =
        new EndWatcher(cluster, agents, ends::propagateEvent, () -> leader.get() && !stopped.get());
    AgentDriver driver =
        new AgentDriver(
            agents,
            cluster,
            placer,
            backoffs,
            clock,
            metrics,
            config.readyRecheck(),
            protocol,
            endWatcher::live);
    DrainReport drainReport = new DrainReport(client, cluster, clock);
    drains.scheduleWithFixedDelay(
        () -> {
          try {
            if (leader.get() && !stopped.get()) drainReport.run();
          } catch (RuntimeException e) {
            // a scheduled task that throws is never run again
            LOG.error("writing the Drained conditions of draining Dom0Nodes", e);
          }
        },
        2,
        2,
        TimeUnit.SECONDS);
    VirtualDiskReconciler reconciler =
        new VirtualDiskReconciler(
            cluster,
            new SpecValidator(cluster),
            placer,
            driver,
            new Mover(cluster, agents, driver, placer, backoffs, clock, protocol),
            statuses,
            new DiskEvents(recorder),
            new Reclaimer(cluster, agents, metrics),
            new StatusWriter(client),
            recorder,
            backoffs,
            config,
            metrics,
            ends);
    this.operator =
        new Operator(
            o -> {
              o.withKubernetesClient(client)
                  .withCloseClientOnStop(false)
                  .withMetrics(metrics)
                  // the finalizer by JSON patch, as the status (docs/operator.md, "Status write
                  // path"); the SDK's default is server-side apply
                  .withUseSSAToPatchPrimaryResource(false)
                  .checkingCRDAndValidateLocalModel(false);
              if (config.leaderElection())
                o.withLeaderElectionConfiguration(leaderElection(config));
            });
    operator.register(
        reconciler,
        c -> {
          c.withFinalizer(VirtualDisk.FINALIZER).withFieldManager(FIELD_MANAGER);
          if (config.namespaces().isEmpty()) c.watchingAllNamespaces();
          else c.settingNamespaces(config.namespaces());
        });
    if (!config.leaderElection()) {
      leader.set(true);
      metrics.leader(true);
    }
    try {
      this.management =
          config.managementPort() < 0
              ? null
              : new ManagementServer(
                  config.managementPort(),
                  () -> !stopped.get(),
                  this::notReadyBecause,
                  metrics::render);
    } catch (IOException e) {
      throw new UncheckedIOException(
          "cannot listen on management port "
              + config.managementPort()
              + ": choose another with --management-port",
          e);
    }
  }

  /**
   * Starts the operator in this process. The client is not closed by {@link #close()}; the caller
   * owns it. Returns once the controller is registered and (without leader election) its informers
   * synced.
   */
  public static XenvbdOperator start(
      KubernetesClient client, OperatorConfig config, AgentClientFactory agents) {
    return start(client, config, agents, Clock.systemUTC());
  }

  public static XenvbdOperator start(
      KubernetesClient client, OperatorConfig config, AgentClientFactory agents, Clock clock) {
    return start(client, config, agents, clock, Protocol.CURRENT);
  }

  /**
   * Speaking {@code protocol} to the agents: {@link Protocol#CURRENT} in production, another
   * version only in skew tests (whose {@code agents} announce the same version, see
   * HttpAgentClient.factory).
   */
  public static XenvbdOperator start(
      KubernetesClient client,
      OperatorConfig config,
      AgentClientFactory agents,
      Clock clock,
      Protocol protocol) {
    XenvbdOperator running = new XenvbdOperator(client, config, agents, clock, protocol);
    try {
      running.operator.start();
      running.nodeWatch.start();
      running.endWatcher.start();
    } catch (RuntimeException e) {
      running.close();
      throw e;
    }
    LOG.info(
        "xenvbd operator started (namespaces: {}, leader election: {})",
        config.namespaces().isEmpty() ? "all" : config.namespaces(),
        config.leaderElection());
    return running;
  }

  private LeaderElectionConfiguration leaderElection(OperatorConfig config) {
    LeaderCallbacks callbacks =
        new LeaderCallbacks(
            () -> {
              leader.set(true);
              metrics.leader(true);
              LOG.info("{} is now the leader", config.identity());
            },
            () -> {
              leader.set(false);
              metrics.leader(false);
              LOG.warn("{} lost leadership", config.identity());
            },
            id -> LOG.info("leader is {}", id));
    return new LeaderElectionConfiguration(
        config.leaseName(),
        config.leaseNamespace(),
        LeaderElectionConfiguration.LEASE_DURATION_DEFAULT_VALUE,
        LeaderElectionConfiguration.RENEW_DEADLINE_DEFAULT_VALUE,
        LeaderElectionConfiguration.RETRY_PERIOD_DEFAULT_VALUE,
        config.identity(),
        callbacks,
        config.exitOnLostLease());
  }

  /**
   * Null when ready: started, and (with leader election) electing; a standby is ready too, it just
   * waits.
   */
  private String notReadyBecause() {
    if (stopped.get()) return "stopped";
    if (!operator.getRuntimeInfo().isStarted()) return "starting";
    if (!operator.getRuntimeInfo().allEventSourcesAreHealthy())
      return "informers unhealthy: " + operator.getRuntimeInfo().unhealthyEventSources().keySet();
    return null;
  }

  public boolean isLeader() {
    return leader.get();
  }

  /** Port of /healthz, /readyz and /metrics, or -1 when disabled. */
  public int managementPort() {
    return management == null ? -1 : management.port();
  }

  public OperatorMetrics metrics() {
    return metrics;
  }

  @Override
  public void close() {
    if (!stopped.compareAndSet(false, true)) return;
    nodeWatch.close();
    endWatcher.close();
    drains.shutdownNow();
    try {
      operator.stop();
    } catch (RuntimeException e) {
      LOG.warn("stopping the operator: {}", e.getMessage());
    }
    if (management != null) management.close();
  }
}
