package io.xenvbd.agent;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import com.sun.net.httpserver.HttpsConfigurator;
import com.sun.net.httpserver.HttpsServer;
import io.xenvbd.tls.Tls;
import java.net.InetSocketAddress;
import java.net.URI;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.attribute.PosixFilePermissions;
import java.util.List;
import javax.net.ssl.SSLHandshakeException;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

class TlsTest {
  @TempDir Path dir;

  @Test
  void generatedCertificatesServeHttpsThatOnlyTheirCaTrusts() throws Exception {
    Tls.Generated ours = Tls.generate(dir.resolve("a"), List.of("127.0.0.1", "localhost"));
    Tls.Generated other = Tls.generate(dir.resolve("b"), List.of("127.0.0.1"));
    assertThat(Files.readString(ours.key())).startsWith("-----BEGIN PRIVATE KEY-----");
    assertThat(PosixFilePermissions.toString(Files.getPosixFilePermissions(ours.key()))).isEqualTo("rw-------");
    assertThat(Tools.ok("openssl", "verify", "-CAfile", ours.caCert().toString(), ours.cert().toString())).contains("OK");
    assertThat(Tools.ok("openssl", "x509", "-in", ours.cert().toString(), "-noout", "-ext", "subjectAltName"))
        .contains("IP Address:127.0.0.1", "DNS:localhost");

    HttpsServer server = okServer(ours);
    try {
      for (String host : List.of("127.0.0.1", "localhost")) {
        URI uri = URI.create("https://" + host + ":" + server.getAddress().getPort() + "/");
        HttpClient trusting = HttpClient.newBuilder().sslContext(Tls.clientContext(ours.caCert())).build();
        assertThat(trusting.send(HttpRequest.newBuilder(uri).build(), HttpResponse.BodyHandlers.ofString()).body()).isEqualTo("ok");
      }
      URI uri = URI.create("https://127.0.0.1:" + server.getAddress().getPort() + "/");
      HttpClient stranger = HttpClient.newBuilder().sslContext(Tls.clientContext(other.caCert())).build();
      assertThatThrownBy(() -> stranger.send(HttpRequest.newBuilder(uri).build(), HttpResponse.BodyHandlers.ofString()))
          .isInstanceOf(SSLHandshakeException.class);
    } finally {
      server.stop(0);
    }
  }

  @Test
  void inSharedModeAnAgentReachedByAnAddressItsCertificateDoesNotNameIsTrustedThroughItsCa() throws Exception {
    // clientContext is the shared-certificate mode (--agent-identity=ca, the chart's default): the
    // chart cannot know node IPs when it issues one certificate for all agents, so trust comes from
    // the CA signature alone. Per-node identity is checked in protocol.AgentIdentityTest.
    Tls.Generated ours = Tls.generate(dir.resolve("named"), List.of("xenvbd-agent.example"));
    Tls.Generated other = Tls.generate(dir.resolve("other"), List.of("127.0.0.1"));
    HttpsServer server = okServer(ours);
    try {
      URI uri = URI.create("https://127.0.0.1:" + server.getAddress().getPort() + "/");
      HttpClient trusting = HttpClient.newBuilder().sslContext(Tls.clientContext(ours.caCert())).build();
      assertThat(trusting.send(HttpRequest.newBuilder(uri).build(), HttpResponse.BodyHandlers.ofString()).body()).isEqualTo("ok");
      HttpClient stranger = HttpClient.newBuilder().sslContext(Tls.clientContext(other.caCert())).build();
      assertThatThrownBy(() -> stranger.send(HttpRequest.newBuilder(uri).build(), HttpResponse.BodyHandlers.ofString()))
          .isInstanceOf(SSLHandshakeException.class);
    } finally {
      server.stop(0);
    }
  }

  /** An HTTPS server on 127.0.0.1 with the generated certificate that answers "ok". */
  static HttpsServer okServer(Tls.Generated tls) throws Exception {
    HttpsServer server = HttpsServer.create(new InetSocketAddress("127.0.0.1", 0), 0);
    server.setHttpsConfigurator(new HttpsConfigurator(Tls.serverContext(tls.cert(), tls.key())));
    server.createContext("/", e -> {
      e.sendResponseHeaders(200, 2);
      e.getResponseBody().write("ok".getBytes());
      e.close();
    });
    server.start();
    return server;
  }

  @Test
  void unreadableKeyMaterialSaysWhatToGive() throws Exception {
    Path bogus = Files.writeString(dir.resolve("bogus.pem"), "not a pem\n");
    assertThatThrownBy(() -> Tls.serverContext(bogus, bogus)).hasMessageContaining("give a PEM certificate");
    assertThatThrownBy(() -> Tls.clientContext(bogus)).hasMessageContaining("PEM certificate of the CA");
  }
}
