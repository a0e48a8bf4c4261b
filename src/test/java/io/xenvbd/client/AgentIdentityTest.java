package io.xenvbd.client;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import com.sun.net.httpserver.HttpServer;
import com.sun.net.httpserver.HttpsConfigurator;
import com.sun.net.httpserver.HttpsServer;
import io.xenvbd.api.Reasons;
import io.xenvbd.ca.CertificateAuthority;
import io.xenvbd.protocol.AgentClientFactory;
import io.xenvbd.protocol.AgentNotTrustedException;
import io.xenvbd.protocol.AgentUnreachableException;
import io.xenvbd.tls.Tls;
import java.net.InetSocketAddress;
import java.net.URI;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.List;
import java.util.concurrent.CopyOnWriteArrayList;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * The operator's client proves that the server it reached for node N is N's agent before it sends a
 * byte of HTTP: real TLS on loopback, certificates from one CA issued for different nodes, and a
 * server that records every request it gets (so "refused" means it saw nothing, not even the
 * token).
 */
class AgentIdentityTest {
  @TempDir Path dir;
  CertificateAuthority ca;
  Path tokens;
  final List<HttpServer> servers = new CopyOnWriteArrayList<>();

  /** The Authorization header of every request any test server received. */
  final List<String> seen = new CopyOnWriteArrayList<>();

  @BeforeEach
  void authority() throws Exception {
    ca = CertificateAuthority.create(dir.resolve("ca"));
    tokens = Files.createDirectories(dir.resolve("tokens"));
    Files.writeString(tokens.resolve("node-a"), "token-of-a\n");
  }

  @AfterEach
  void stopServers() {
    servers.forEach(s -> s.stop(0));
  }

  AgentClientFactory strict() {
    return HttpAgentClient.factory(
        NodeTokens.perNode(tokens, "shared-token"),
        AgentTrust.fromCa(ca.caCert(), AgentTrust.Identity.NODE));
  }

  @Test
  void aCertificateNamingTheNodeAndItsAddressIsAcceptedAndGetsThatNodesToken() throws Exception {
    String endpoint = agentWithCertificateFor("node-a", "127.0.0.1");
    assertThat(strict().forNode("node-a", endpoint).getDisk("ns", "d")).isEmpty();
    assertThat(seen).containsExactly("Bearer token-of-a");
  }

  @Test
  void anotherNodesCertificateFromTheSameCaIsRefusedBeforeAnyRequest() throws Exception {
    String endpoint = agentWithCertificateFor("node-b", "127.0.0.1");
    AgentClientFactory agents = strict();
    assertThatThrownBy(() -> agents.forNode("node-a", endpoint).getDisk("ns", "d"))
        .isInstanceOfSatisfying(
            AgentNotTrustedException.class,
            e -> {
              assertThat(e.reason()).isEqualTo(Reasons.AGENT_IDENTITY_MISMATCH);
              assertThat(e.getMessage())
                  .contains("DNS:node-b", "lacks the DNS name node-a", "not node node-a's agent")
                  .doesNotContain("token-of-a", "shared-token");
            });
    assertThat(seen).as("requests the other node's agent received").isEmpty();
    // the same server is node-b's agent: the certificate decides, not the CA alone
    assertThat(agents.forNode("node-b", endpoint).getDisk("ns", "d")).isEmpty();
    assertThat(seen).containsExactly("Bearer shared-token");
  }

  @Test
  void aCertificateForTheNodeThatDoesNotNameTheEndpointsHostIsRefused() throws Exception {
    String elsewhere = agentWithCertificateFor("node-a", "10.9.8.7");
    assertThatThrownBy(() -> strict().forNode("node-a", elsewhere).getDisk("ns", "d"))
        .isInstanceOf(AgentNotTrustedException.class)
        .hasMessageContaining("lacks the IP address 127.0.0.1 of its endpoint");
    // a DNS host must be a DNS name of the certificate; its IP address SAN does not stand for it
    String byName =
        agentWithCertificateFor("node-a", "127.0.0.1").replace("127.0.0.1", "localhost");
    assertThatThrownBy(() -> strict().forNode("node-a", byName).getDisk("ns", "d"))
        .isInstanceOf(AgentNotTrustedException.class)
        .hasMessageContaining("lacks the DNS name localhost of its endpoint");
    assertThat(seen).isEmpty();
    String named = agentWithCertificateFor("node-a", "localhost").replace("127.0.0.1", "localhost");
    assertThat(strict().forNode("node-a", named).getDisk("ns", "d")).isEmpty();
  }

  @Test
  void aConnectionProvenForOneNodeNeverCarriesAnotherNodesRequest() throws Exception {
    // node-b's Dom0Node claims node-a's endpoint: after a call to node-a, a pooled connection
    // to that address must not be reused for node-b.
    String endpoint = agentWithCertificateFor("node-a", "127.0.0.1");
    AgentClientFactory agents = strict();
    agents.forNode("node-a", endpoint).getDisk("ns", "d");
    assertThatThrownBy(() -> agents.forNode("node-b", endpoint).getDisk("ns", "d"))
        .isInstanceOf(AgentNotTrustedException.class);
    assertThat(seen).containsExactly("Bearer token-of-a");
  }

  @Test
  void withTlsConfiguredAnHttpEndpointIsRefusedAndNeverConnected() throws Exception {
    HttpServer plain = record(HttpServer.create(new InetSocketAddress("127.0.0.1", 0), 0));
    String endpoint = "http://127.0.0.1:" + plain.getAddress().getPort();
    for (AgentClientFactory agents :
        List.of(
            strict(), HttpAgentClient.factory("shared-token", Tls.clientContext(ca.caCert())))) {
      assertThatThrownBy(() -> agents.forNode("node-a", endpoint).getDisk("ns", "d"))
          .isInstanceOfSatisfying(
              AgentNotTrustedException.class,
              e -> {
                assertThat(e.reason()).isEqualTo(Reasons.INSECURE_AGENT_ENDPOINT);
                assertThat(e.getMessage()).contains(endpoint, "only over HTTPS");
              });
    }
    assertThatThrownBy(
            () ->
                new HttpAgentClient(
                    URI.create(endpoint.toUpperCase()),
                    "t",
                    Tls.clientContext(ca.caCert()),
                    Duration.ofSeconds(5)))
        .isInstanceOf(AgentNotTrustedException.class);
    assertThat(seen).isEmpty();
    // without TLS configured (local tests with --insecure-plain-http agents) plain HTTP still works
    HttpAgentClient.factory(NodeTokens.perNode(tokens, "shared-token"), null)
        .forNode("node-a", endpoint)
        .getDisk("ns", "d");
    assertThat(seen).containsExactly("Bearer token-of-a");
  }

  @Test
  void anEndpointThatIsMoreThanSchemeHostAndPortIsRefused() throws Exception {
    String good = agentWithCertificateFor("node-a", "127.0.0.1");
    for (String bad :
        List.of(
            good.replace("https://", "https://user@"),
            good + "/v1/elsewhere",
            good + "/?x=1",
            good + "#f",
            good.replace("https", "ftp"),
            "https:///nohost",
            "not a url",
            "")) {
      assertThatThrownBy(() -> strict().forNode("node-a", bad))
          .as(bad)
          .isInstanceOf(AgentUnreachableException.class)
          .hasMessageContaining("which is not https://<host>:<port>");
    }
    assertThat(seen).isEmpty();
  }

  @Test
  void eachNodesTokenFileIsReadAtEveryCallAndAMissingOneFallsBackToTheSharedToken()
      throws Exception {
    String a = agentWithCertificateFor("node-a", "127.0.0.1");
    String c = agentWithCertificateFor("node-c", "127.0.0.1");
    AgentClientFactory agents = strict();
    agents.forNode("node-a", a).getDisk("ns", "d");
    agents.forNode("node-c", c).getDisk("ns", "d");
    Files.writeString(tokens.resolve("node-a"), "rotated\n");
    agents.forNode("node-a", a).getDisk("ns", "d");
    assertThat(seen).containsExactly("Bearer token-of-a", "Bearer shared-token", "Bearer rotated");

    // an emptied file is a broken rotation: refused, and the token in use stays
    Files.writeString(tokens.resolve("node-a"), "\n");
    agents.forNode("node-a", a).getDisk("ns", "d");
    assertThat(seen).last().isEqualTo("Bearer rotated");
    // a node whose first file is empty has no token to keep: refused, never the shared token
    Files.writeString(tokens.resolve("node-c"), "\n");
    assertThatThrownBy(() -> agents.forNode("node-c", c))
        .isInstanceOf(AgentUnreachableException.class)
        .hasMessageContaining("for node node-c cannot be used")
        .hasMessageContaining("is empty; put the node's token in it");
    for (String name : List.of("..", "../tokens/node-a", "Node-A", "")) {
      assertThatThrownBy(() -> agents.forNode(name, a))
          .isInstanceOf(AgentUnreachableException.class)
          .hasMessageContaining("is not a Kubernetes node name");
    }
    assertThat(seen).hasSize(4);
  }

  @Test
  void withIdentityCaAnyCertificateTheCaSignedIsAcceptedAsTheSharedModeDoes() throws Exception {
    String endpoint = agentWithCertificateFor("node-b", "10.9.8.7");
    AgentClientFactory shared =
        HttpAgentClient.factory(
            NodeTokens.shared("shared-token"),
            AgentTrust.fromCa(ca.caCert(), AgentTrust.Identity.CA));
    assertThat(shared.forNode("node-a", endpoint).getDisk("ns", "d")).isEmpty();
    Path strangerCa = CertificateAuthority.create(dir.resolve("stranger")).caCert();
    AgentClientFactory stranger =
        HttpAgentClient.factory(
            NodeTokens.shared("shared-token"),
            AgentTrust.fromCa(strangerCa, AgentTrust.Identity.CA));
    assertThatThrownBy(() -> stranger.forNode("node-a", endpoint).getDisk("ns", "d"))
        .isInstanceOf(AgentUnreachableException.class)
        .isNotInstanceOf(AgentNotTrustedException.class);
    assertThat(seen).hasSize(1);
  }

  @Test
  void identityNamesOnlyNodeOrCa() {
    assertThat(AgentTrust.Identity.parse(" Node ")).isEqualTo(AgentTrust.Identity.NODE);
    assertThat(AgentTrust.Identity.parse("ca")).isEqualTo(AgentTrust.Identity.CA);
    assertThatThrownBy(() -> AgentTrust.Identity.parse("none"))
        .hasMessageContaining("--agent-identity must be node");
  }

  /**
   * An HTTPS server on 127.0.0.1 with a certificate from {@link #ca} for {@code names}; its
   * endpoint.
   */
  private String agentWithCertificateFor(String... names) throws Exception {
    CertificateAuthority.Issued tls =
        ca.issue(dir.resolve("certs-" + servers.size()), List.of(names));
    HttpsServer server = HttpsServer.create(new InetSocketAddress("127.0.0.1", 0), 0);
    server.setHttpsConfigurator(new HttpsConfigurator(Tls.serverContext(tls.cert(), tls.key())));
    record(server);
    return "https://127.0.0.1:" + server.getAddress().getPort();
  }

  /**
   * Every request is recorded and answered 404 (what the agent says about a disk it does not have).
   */
  private <S extends HttpServer> S record(S server) {
    server.createContext(
        "/",
        e -> {
          seen.add(String.valueOf(e.getRequestHeaders().getFirst("Authorization")));
          e.sendResponseHeaders(404, -1);
          e.close();
        });
    server.start();
    servers.add(server);
    return server;
  }
}
