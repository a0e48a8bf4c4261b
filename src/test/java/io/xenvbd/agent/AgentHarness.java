package io.xenvbd.agent;

import static org.awaitility.Awaitility.await;

import com.fasterxml.jackson.databind.JsonNode;
import io.fabric8.kubernetes.client.KubernetesClient;
import io.xenvbd.ca.CertificateAuthority;
import io.xenvbd.client.HttpAgentClient;
import io.xenvbd.local.Wiring;
import io.xenvbd.protocol.DiskState;
import java.io.IOException;
import java.net.URI;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.List;
import java.util.function.UnaryOperator;
import javax.net.ssl.SSLContext;

/**
 * A real agent over HTTPS with freshly generated certificates, and clients that call it as the
 * operator would.
 */
final class AgentHarness implements AutoCloseable {
  final String token;
  final Path root;
  final Path sources;
  final CertificateAuthority.Issued tls;
  final SSLContext clientSsl;
  final Agent agent;
  final HttpClient http;
  final HttpAgentClient client;

  private AgentHarness(Path dir, KubernetesClient kube, UnaryOperator<AgentConfig.Builder> tweak)
      throws IOException {
    root = Files.createDirectories(dir.resolve("images"));
    sources = Files.createDirectories(dir.resolve("sources"));
    Wiring wiring = Wiring.in(dir);
    token = wiring.token();
    tls = wiring.tls();
    AgentConfig.Builder config =
        wiring.agent("node-a", root, List.of(sources)).heartbeat(Duration.ofSeconds(1));
    agent = Agent.start(tweak.apply(config).build(), kube);
    clientSsl = wiring.clientContext();
    http =
        HttpClient.newBuilder().sslContext(clientSsl).connectTimeout(Duration.ofSeconds(5)).build();
    client = new HttpAgentClient(agent.endpoint(), token, clientSsl, Duration.ofSeconds(10));
  }

  static AgentHarness start(Path dir, KubernetesClient kube) throws IOException {
    return new AgentHarness(dir, kube, c -> c);
  }

  static AgentHarness start(
      Path dir, KubernetesClient kube, UnaryOperator<AgentConfig.Builder> tweak)
      throws IOException {
    return new AgentHarness(dir, kube, tweak);
  }

  /** A raw call; {@code token} null sends no Authorization header. */
  HttpResponse<String> call(String method, String path, String body, String token) {
    HttpRequest.Builder b =
        HttpRequest.newBuilder(URI.create(agent.endpoint() + path)).timeout(Duration.ofSeconds(30));
    if (token != null) b.header("Authorization", "Bearer " + token);
    if (body != null) b.header("Content-Type", "application/json");
    b.method(
        method,
        body == null
            ? HttpRequest.BodyPublishers.noBody()
            : HttpRequest.BodyPublishers.ofString(body));
    try {
      return http.send(b.build(), HttpResponse.BodyHandlers.ofString());
    } catch (IOException e) {
      throw new IllegalStateException(method + " " + path + " failed: " + e, e);
    } catch (InterruptedException e) {
      Thread.currentThread().interrupt();
      throw new IllegalStateException(e);
    }
  }

  HttpResponse<String> call(String method, String path, String body) {
    return call(method, path, body, token);
  }

  static String putBody(String uid, String spec) {
    return "{\"uid\":\"" + uid + "\",\"spec\":" + spec + "}";
  }

  static JsonNode json(HttpResponse<String> response) {
    try {
      return Exchanges.JSON.readTree(response.body());
    } catch (IOException e) {
      throw new AssertionError("not JSON (" + response.statusCode() + "): " + response.body(), e);
    }
  }

  /** Waits until GET says Ready (fails fast when it says Failed). */
  DiskState awaitReady(String namespace, String name, Duration within) {
    return await()
        .atMost(within)
        .pollInterval(Duration.ofMillis(100))
        .until(
            () -> {
              DiskState s = client.getDisk(namespace, name).orElseThrow();
              if (s.phase() == DiskState.Phase.Failed)
                throw new AssertionError("disk failed: " + s.error());
              return s;
            },
            s -> s.phase() == DiskState.Phase.Ready);
  }

  /** Files (not directories) under the images root, relative to it, sorted. */
  List<String> filesUnderRoot() throws IOException {
    try (var walk = Files.walk(root)) {
      // The agent's lock file (io.xenvbd.disk.FileLocks) is its own state, not a disk's.
      return walk.filter(Files::isRegularFile)
          .map(p -> root.relativize(p).toString())
          .filter(n -> !n.equals(".xenvbd.lock"))
          .sorted()
          .toList();
    }
  }

  @Override
  public void close() {
    agent.close();
  }
}
