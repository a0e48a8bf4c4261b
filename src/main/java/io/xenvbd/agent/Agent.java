package io.xenvbd.agent;

import io.fabric8.kubernetes.client.KubernetesClient;
import io.xenvbd.client.AgentTrust;
import io.xenvbd.disk.DiskEngine;
import io.xenvbd.disk.EngineConfig;
import io.xenvbd.protocol.Protocol;
import io.xenvbd.tls.Rotating;
import io.xenvbd.tls.Tls;
import java.io.IOException;
import java.io.UncheckedIOException;
import java.net.InetAddress;
import java.net.InetSocketAddress;
import java.net.URI;
import java.net.UnknownHostException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Set;
import java.util.function.Supplier;
import javax.net.ssl.SSLContext;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * A running node agent: disk engine, worker pool, HTTP(S) API and Dom0Node heartbeat, wired by
 * constructor. {@code xenvbd agent}, local mode and tests all start it through {@link #start}.
 */
public final class Agent implements AutoCloseable {
  private static final Logger LOG = LoggerFactory.getLogger(Agent.class);

  private final DiskEngine engine;
  private final DiskService disks;
  private final AgentServer server;
  private final NodeRegistrar registrar;
  private final URI endpoint;
  private final List<Supplier<String>> credentials;

  private Agent(
      DiskEngine engine,
      DiskService disks,
      AgentServer server,
      NodeRegistrar registrar,
      URI endpoint,
      List<Supplier<String>> credentials) {
    this.credentials = credentials;
    this.engine = engine;
    this.disks = disks;
    this.server = server;
    this.registrar = registrar;
    this.endpoint = endpoint;
  }

  /**
   * Cleans leftovers of interrupted builds, starts serving and (when {@code client} is not null)
   * registers the Dom0Node and heartbeats it. The caller keeps ownership of {@code client}.
   */
  public static Agent start(AgentConfig config, KubernetesClient client) {
    return start(config, client, Protocol.CURRENT);
  }

  /**
   * Like {@link #start(AgentConfig, KubernetesClient)}, speaking {@code protocol}: {@link
   * Protocol#CURRENT} in production; another version only in skew tests, which run an agent ahead
   * of or behind the operator.
   */
  public static Agent start(AgentConfig config, KubernetesClient client, Protocol protocol) {
    if (config.insecurePlainHttp()) {
      LOG.warn(
          "serving PLAIN HTTP: the bearer token and disk requests travel unencrypted; use TLS outside local tests");
    }
    List<Supplier<String>> credentials = new ArrayList<>();
    SSLContext ssl = null;
    if (!config.insecurePlainHttp()) {
      Rotating<Tls.ServerKeys> keys =
          Tls.watchServerKeys(config.tlsCert(), config.tlsKey(), config.rotationOverlap());
      credentials.add(keys::error);
      ssl = Tls.serverContext(keys);
    }
    try {
      Files.createDirectories(config.imagesRoot());
    } catch (IOException e) {
      throw new UncheckedIOException(
          "cannot create the images root " + config.imagesRoot() + ": " + e.getMessage(), e);
    }
    EngineConfig defaults = EngineConfig.defaults(config.imagesRoot(), config.allowedSources());
    // No hostPaths source may hold or lie in the agent's TLS material (the images root is kept
    // anyway).
    List<Path> kept = new ArrayList<>();
    for (Path p : new Path[] {config.tlsCert(), config.tlsKey()}) {
      if (p != null) kept.add(p.toAbsolutePath().normalize().getParent());
    }
    DiskEngine engine =
        new DiskEngine(
            new EngineConfig(
                defaults.imagesRoot(),
                defaults.allowedSources(),
                config.loopWait(),
                defaults.commandTimeout(),
                config.urls(),
                kept,
                config.importDir(),
                config.loopReserve()));
    List<Path> cleaned =
        engine.recover(); // first takes the images root, or refuses: another agent has it
    if (!cleaned.isEmpty())
      LOG.info("removed {} leftovers of interrupted builds: {}", cleaned.size(), cleaned);

    Metrics metrics = new Metrics();
    DiskService disks =
        new DiskService(engine, config.workers(), config.retryFailedAfter(), metrics);
    if (config.peerCa() != null) {
      AgentTrust peers =
          AgentTrust.fromCa(config.peerCa(), AgentTrust.Identity.NODE, config.rotationOverlap());
      credentials.add(peers::error);
      disks.peers(new Peers(peers));
    }
    Transfers transfers = protocol.version() >= 4 ? new Transfers(engine) : null;
    DiskApi api = new DiskApi(config.nodeName(), engine, disks, protocol, transfers);
    AgentServer server;
    try {
      server = new AgentServer(config, ssl, api, metrics, engine, disks, () -> true, transfers);
    } catch (IOException e) {
      disks.close();
      engine.close();
      throw new UncheckedIOException(
          "cannot listen on " + config.listen() + ": " + e.getMessage() + " (change --listen)", e);
    }
    credentials.add(server::tokenError);
    metrics.credentialProblems(() -> problems(credentials));
    URI endpoint =
        config.advertise() != null ? config.advertise() : advertised(server.address(), ssl != null);
    NodeRegistrar registrar = null;
    if (client != null) {
      registrar =
          new NodeRegistrar(
              client, config.nodeName(), endpoint, config.heartbeat(), engine, protocol.version());
      registrar.start();
      disks.onFreed(registrar::soon);
    }
    LOG.info("agent for node {} serving at {} ({})", config.nodeName(), endpoint, config);
    return new Agent(engine, disks, server, registrar, endpoint, credentials);
  }

  private static List<String> problems(List<Supplier<String>> credentials) {
    List<String> out = new ArrayList<>();
    for (Supplier<String> c : credentials) {
      String problem = c.get();
      if (problem != null) out.add(problem);
    }
    return out;
  }

  /**
   * Why a credential file that changed is not in use (its token, certificate and key, or peer CA is
   * kept until the file is fixed), one sentence each; empty when every file is in use.
   */
  public List<String> credentialProblems() {
    return problems(credentials);
  }

  /**
   * Releases every image whose owner uid is not in {@code liveUids} (local mode at start, whose API
   * forgot the VirtualDisks of its last run) and returns how many released images there are now.
   */
  public int releaseAllBut(Set<String> liveUids) {
    return engine.releaseAllBut(liveUids);
  }

  /**
   * Where clients reach this agent (the advertised endpoint, or one derived from the bound port).
   */
  public URI endpoint() {
    return endpoint;
  }

  /** The address and port actually bound (useful with port 0). */
  public InetSocketAddress address() {
    return server.address();
  }

  /**
   * Stops the heartbeat and the API, and interrupts running disk work (the engine removes its
   * temporary files).
   */
  @Override
  public void close() {
    if (registrar != null) registrar.close();
    disks.stopWaiting(); // waiting calls get their answers before the server closes
    server.close();
    disks.close();
    engine.close();
  }

  private static URI advertised(InetSocketAddress bound, boolean tls) {
    String host;
    if (bound.getAddress() == null || bound.getAddress().isAnyLocalAddress()) {
      try {
        host = InetAddress.getLocalHost().getHostName();
      } catch (UnknownHostException e) {
        host = "localhost";
      }
    } else {
      host = bound.getAddress().getHostAddress();
      if (host.contains(":")) host = "[" + host + "]";
    }
    return URI.create((tls ? "https" : "http") + "://" + host + ":" + bound.getPort());
  }
}
