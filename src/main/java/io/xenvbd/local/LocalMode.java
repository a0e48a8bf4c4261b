package io.xenvbd.local;

import io.xenvbd.agent.Agent;
import io.xenvbd.agent.AgentConfig;
import io.xenvbd.kube.EmbeddedApiServer;
import io.xenvbd.operator.OperatorConfig;
import io.xenvbd.operator.XenvbdOperator;
import io.xenvbd.protocol.HttpAgentClient;
import io.xenvbd.protocol.Tls;
import java.io.IOException;
import java.io.UncheckedIOException;
import java.net.InetSocketAddress;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.attribute.PosixFilePermissions;
import java.security.SecureRandom;
import java.time.Duration;
import java.util.Base64;
import java.util.List;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * The whole product in one process: the embedded Kubernetes API, the operator and one agent for this
 * machine, talking to each other exactly as they do in a cluster (the operator reaches the agent over
 * HTTPS with a bearer token; both use the Kubernetes API).
 */
public final class LocalMode implements AutoCloseable {
  private static final Logger LOG = LoggerFactory.getLogger(LocalMode.class);

  private final LocalConfig config;
  private final EmbeddedApiServer api;
  private final Agent agent;
  private final XenvbdOperator operator;

  private LocalMode(LocalConfig config, EmbeddedApiServer api, Agent agent, XenvbdOperator operator) {
    this.config = config;
    this.api = api;
    this.agent = agent;
    this.operator = operator;
  }

  public static LocalMode start(LocalConfig config) {
    EmbeddedApiServer api = null;
    Agent agent = null;
    try {
      Files.createDirectories(config.images());
      api = EmbeddedApiServer.startWithProjectCrds(config.apiPort());
      api.writeKubeconfig(config.kubeconfig());
      String token = token(config.dir().resolve("agent-token"));
      Tls.Generated tls = Tls.generate(config.dir().resolve("tls"), List.of("127.0.0.1", "localhost"));
      agent = Agent.start(new AgentConfig(config.nodeName(), config.images(), config.allowedSources(),
          new InetSocketAddress("127.0.0.1", 0), null, tls.cert(), tls.key(), false, token, 2,
          Duration.ofSeconds(10), Duration.ofSeconds(60), false, AgentConfig.DEFAULT_RETRY_FAILED_AFTER,
          config.urls()), api.client());
      XenvbdOperator operator = XenvbdOperator.start(api.client(), OperatorConfig.inProcess(),
          HttpAgentClient.factory(token, Tls.clientContext(tls.caCert())));
      LOG.info("local mode up: API {}, agent {} for node {}", api.url(), agent.endpoint(), config.nodeName());
      return new LocalMode(config, api, agent, operator);
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

  public LocalConfig config() {
    return config;
  }

  public String apiUrl() {
    return api.url();
  }

  /** Stops the operator first (no new work), then the agent (in-flight builds rolled back), then the API. */
  @Override
  public void close() {
    closeQuietly(operator);
    closeQuietly(agent);
    closeQuietly(api);
  }

  /** The shared bearer token, made once and kept (mode 0600) so restarts keep working. */
  private static String token(Path file) throws IOException {
    if (Files.exists(file)) {
      String existing = Files.readString(file).trim();
      if (!existing.isEmpty()) return existing;
    }
    byte[] bytes = new byte[32];
    new SecureRandom().nextBytes(bytes);
    String token = Base64.getUrlEncoder().withoutPadding().encodeToString(bytes);
    Path tmp = file.resolveSibling(file.getFileName() + ".tmp");
    Files.deleteIfExists(tmp);
    Files.createFile(tmp, PosixFilePermissions.asFileAttribute(PosixFilePermissions.fromString("rw-------")));
    Files.writeString(tmp, token + "\n");
    Files.move(tmp, file, java.nio.file.StandardCopyOption.ATOMIC_MOVE, java.nio.file.StandardCopyOption.REPLACE_EXISTING);
    return token;
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
