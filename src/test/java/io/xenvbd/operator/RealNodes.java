package io.xenvbd.operator;

import io.fabric8.kubernetes.client.KubernetesClient;
import io.xenvbd.agent.Agent;
import io.xenvbd.agent.AgentConfig;
import io.xenvbd.ca.CertificateAuthority;
import io.xenvbd.client.AgentTrust;
import io.xenvbd.client.HttpAgentClient;
import io.xenvbd.client.NodeTokens;
import io.xenvbd.local.Wiring;
import io.xenvbd.protocol.AgentClientFactory;
import io.xenvbd.protocol.Protocol;
import io.xenvbd.tls.Tls;
import java.io.IOException;
import java.io.UncheckedIOException;
import java.net.URI;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.List;
import java.util.Map;
import java.util.UUID;
import java.util.concurrent.ConcurrentHashMap;
import java.util.stream.Stream;
import javax.net.ssl.SSLContext;

/**
 * Real in-process agents over HTTPS, each with its own images root, registered in the given API,
 * and each with its own identity as the chart's per-node mode gives it: a certificate from one CA
 * naming its node and 127.0.0.1, and its own token in {@link #tokens} (a node started with {@link
 * #startWithSharedToken} has no file there and uses {@link #token}).
 */
final class RealNodes implements AutoCloseable {
  final String token = "token-" + UUID.randomUUID();
  final Path dir;
  final Path tokens;
  final CertificateAuthority ca;
  final SSLContext clientSsl;
  final KubernetesClient kube;
  final Map<String, Agent> agents = new ConcurrentHashMap<>();
  final Duration heartbeat;

  RealNodes(Path dir, KubernetesClient kube) {
    this(dir, kube, Duration.ofSeconds(2));
  }

  /** Agents that heartbeat every {@code heartbeat} (at least a second). */
  RealNodes(Path dir, KubernetesClient kube, Duration heartbeat) {
    this.heartbeat = heartbeat;
    this.dir = dir;
    this.kube = kube;
    this.ca = CertificateAuthority.create(dir.resolve("ca"));
    this.clientSsl = Tls.clientContext(ca.caCert());
    try {
      this.tokens = Files.createDirectories(dir.resolve("tokens"));
    } catch (IOException e) {
      throw new UncheckedIOException(e);
    }
  }

  /** The factory the operator gets: the production HTTPS client, per-node identity and tokens. */
  AgentClientFactory clients() {
    return clients(Protocol.CURRENT);
  }

  /** The same factory announcing {@code protocol}: what an operator of that version sends. */
  AgentClientFactory clients(Protocol protocol) {
    return HttpAgentClient.factory(
        NodeTokens.perNode(tokens, token),
        AgentTrust.fromCa(ca.caCert(), AgentTrust.Identity.NODE),
        protocol);
  }

  /** The token {@code node}'s agent accepts. */
  String token(String node) {
    try {
      Path file = tokens.resolve(node);
      return Files.exists(file) ? Files.readString(file).strip() : token;
    } catch (IOException e) {
      throw new UncheckedIOException(e);
    }
  }

  Path root(String node) {
    return dir.resolve(node).resolve("images");
  }

  /**
   * The node agent's import directory (--import-dir), beside its images root; made by whoever fills
   * it.
   */
  Path imports(String node) {
    return dir.resolve("import").resolve(node);
  }

  Path sources() {
    return dir.resolve("sources");
  }

  /**
   * Starts (or restarts, on the same images root and identity) the agent of {@code node};
   * heartbeats every {@link #heartbeat} (2 seconds unless the constructor was given another).
   */
  Agent start(String node) {
    return start(node, Protocol.CURRENT);
  }

  /**
   * Like {@link #start(String)}, with an agent that speaks {@code protocol} (a skew test's older or
   * newer agent).
   */
  Agent start(String node, Protocol protocol) {
    try {
      Path file = tokens.resolve(node);
      if (!Files.exists(file))
        Files.writeString(file, "token-" + node + "-" + UUID.randomUUID() + "\n");
    } catch (IOException e) {
      throw new UncheckedIOException(e);
    }
    return startAgent(node, protocol);
  }

  /**
   * Like {@link #start}, for a node that has no token of its own: the operator falls back to {@link
   * #token}.
   */
  Agent startWithSharedToken(String node) {
    return startAgent(node, Protocol.CURRENT);
  }

  private Agent startAgent(String node, Protocol protocol) {
    try {
      Files.createDirectories(sources());
      Path certs = dir.resolve("certs").resolve(node);
      CertificateAuthority.Issued tls =
          Files.exists(certs.resolve("tls.crt"))
              ? new CertificateAuthority.Issued(
                  ca.caCert(), certs.resolve("tls.crt"), certs.resolve("tls.key"))
              : ca.issue(certs, List.of(node, "127.0.0.1"));
      AgentConfig config =
          Wiring.agent(
                  node, Files.createDirectories(root(node)), List.of(sources()), token(node), tls)
              .heartbeat(heartbeat)
              .workers(3)
              .importDir(imports(node))
              .peerCa(ca.caCert())
              .build();
      Agent agent = Agent.start(config, kube, protocol);
      agents.put(node, agent);
      return agent;
    } catch (IOException e) {
      throw new UncheckedIOException(e);
    }
  }

  void stop(String node) {
    Agent a = agents.remove(node);
    if (a != null) a.close();
  }

  /** Image files ({@code *.img}) under a node's root, relative to it. */
  List<String> images(String node) {
    try (Stream<Path> walk = Files.walk(root(node))) {
      return walk.filter(p -> p.getFileName().toString().endsWith(".img") && Files.isRegularFile(p))
          .map(p -> root(node).relativize(p).toString())
          .sorted()
          .toList();
    } catch (IOException e) {
      throw new UncheckedIOException(e);
    }
  }

  /** Finished builds the agent counted (its Prometheus counter, all results). */
  long builds(String node) {
    try {
      HttpClient http = HttpClient.newBuilder().sslContext(clientSsl).build();
      String body =
          http.send(
                  HttpRequest.newBuilder(URI.create(agents.get(node).endpoint() + "/metrics"))
                      .header("Authorization", "Bearer " + token(node))
                      .build(),
                  HttpResponse.BodyHandlers.ofString())
              .body();
      return body.lines()
          .filter(
              l -> l.startsWith("xenvbd_agent_operations_total{") && l.contains("kind=\"build\""))
          .mapToLong(l -> (long) Double.parseDouble(l.substring(l.lastIndexOf(' ') + 1)))
          .sum();
    } catch (IOException e) {
      throw new UncheckedIOException(e);
    } catch (InterruptedException e) {
      Thread.currentThread().interrupt();
      throw new IllegalStateException(e);
    }
  }

  @Override
  public void close() {
    for (String node : List.copyOf(agents.keySet())) stop(node);
  }
}
