package io.xenvbd.local;

import io.xenvbd.agent.Agent;
import io.xenvbd.api.VirtualDisk;
import io.xenvbd.kube.AuditEvent;
import io.xenvbd.kube.BearerToken;
import io.xenvbd.kube.EmbeddedApiServer;
import io.xenvbd.kube.ServerTls;
import io.xenvbd.operator.OperatorConfig;
import io.xenvbd.operator.XenvbdOperator;
import java.io.IOException;
import java.io.UncheckedIOException;
import java.nio.file.Files;
import java.util.HashSet;
import java.util.List;
import java.util.Set;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * The whole product in one process: the embedded Kubernetes API, the operator and one agent for
 * this machine, talking to each other exactly as they do in a cluster (the operator reaches the
 * agent over HTTPS with a bearer token; both use the Kubernetes API, with its own token, through
 * the in-process clients the API server hands out). The state directory is owner-only: it holds
 * every credential.
 */
public final class LocalMode implements AutoCloseable {
  private static final Logger LOG = LoggerFactory.getLogger(LocalMode.class);

  private final LocalConfig config;
  private final EmbeddedApiServer api;
  private final Agent agent;
  private final XenvbdOperator operator;
  private final int released;

  private LocalMode(
      LocalConfig config,
      EmbeddedApiServer api,
      Agent agent,
      XenvbdOperator operator,
      int released) {
    this.released = released;
    this.config = config;
    this.api = api;
    this.agent = agent;
    this.operator = operator;
  }

  public static LocalMode start(LocalConfig config) {
    EmbeddedApiServer api = null;
    Agent agent = null;
    try {
      StateDir.secure(config.dir());
      Files.createDirectories(config.images());
      BearerToken apiToken = BearerToken.of(StateDir.token(config.dir().resolve("api-token")));
      api =
          EmbeddedApiServer.startWithProjectCrds(
              config.apiPort(), apiToken, ServerTls.keptIn(config.dir().resolve("api-tls")));
      api.writeKubeconfig(config.kubeconfig());
      Wiring wiring = Wiring.in(config.dir());
      agent =
          Agent.start(
              wiring
                  .agent(config.nodeName(), config.images(), config.allowedSources())
                  .urls(config.urls())
                  .importDir(config.importDir())
                  .build(),
              api.client());
      // The embedded API forgets every VirtualDisk when local mode stops: an image whose
      // VirtualDisk is gone
      // is released, so that a new VirtualDisk can adopt it back (before the operator runs, so none
      // races it).
      Set<String> live = new HashSet<>();
      api.client()
          .resources(VirtualDisk.class)
          .inAnyNamespace()
          .list()
          .getItems()
          .forEach(d -> live.add(d.getMetadata().getUid()));
      int released = agent.releaseAllBut(live);
      if (released > 0)
        LOG.info("{} released image(s) whose VirtualDisk is gone can be adopted back", released);
      XenvbdOperator operator =
          XenvbdOperator.start(api.client(), OperatorConfig.inProcess(), wiring.agentClients());
      LOG.info(
          "local mode up: API {}, agent {} for node {}",
          api.url(),
          agent.endpoint(),
          config.nodeName());
      return new LocalMode(config, api, agent, operator, released);
    } catch (IOException e) {
      closeQuietly(agent);
      closeQuietly(api);
      throw new UncheckedIOException("cannot prepare " + config.dir() + ": " + e.getMessage(), e);
    } catch (RuntimeException e) {
      closeQuietly(agent);
      closeQuietly(api);
      throw e;
    }
  }

  /**
   * How many released images the images root held at start (those whose VirtualDisk the last run
   * forgot included).
   */
  public int released() {
    return released;
  }

  public LocalConfig config() {
    return config;
  }

  public String apiUrl() {
    return api.url();
  }

  /** The operator's counters, as its /metrics renders them. */
  public String operatorMetrics() {
    return operator.metrics().render();
  }

  /** The requests the embedded API server has served (see {@link EmbeddedApiServer#audit()}). */
  public List<AuditEvent> audit() {
    return api.audit();
  }

  /**
   * Stops the operator first (no new work), then the agent (in-flight builds rolled back), then the
   * API.
   */
  @Override
  public void close() {
    closeQuietly(operator);
    closeQuietly(agent);
    closeQuietly(api);
  }

  private static void closeQuietly(AutoCloseable c) {
    if (c == null) return;
    try {
      c.close();
    } catch (Exception e) {
      LOG.warn("while stopping {}: {}", c.getClass().getSimpleName(), e.toString());
    }
  }
}
