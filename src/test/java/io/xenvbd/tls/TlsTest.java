package io.xenvbd.tls;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import com.sun.net.httpserver.HttpsConfigurator;
import com.sun.net.httpserver.HttpsServer;
import io.xenvbd.ca.CertificateAuthority;
import io.xenvbd.testing.Exec;
import java.net.InetSocketAddress;
import java.net.URI;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.attribute.PosixFilePermissions;
import java.util.ArrayList;
import java.util.List;
import javax.net.ssl.SSLHandshakeException;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

class TlsTest {
  @TempDir Path dir;

  @Test
  void generatedCertificatesServeHttpsThatOnlyTheirCaTrusts() throws Exception {
    CertificateAuthority.Issued ours =
        CertificateAuthority.generate(dir.resolve("a"), List.of("127.0.0.1", "localhost"));
    CertificateAuthority.Issued other =
        CertificateAuthority.generate(dir.resolve("b"), List.of("127.0.0.1"));
    assertThat(Files.readString(ours.key())).startsWith("-----BEGIN PRIVATE KEY-----");
    assertThat(PosixFilePermissions.toString(Files.getPosixFilePermissions(ours.key())))
        .isEqualTo("rw-------");
    assertThat(
            Exec.ok(
                "openssl", "verify", "-CAfile", ours.caCert().toString(), ours.cert().toString()))
        .contains("OK");
    assertThat(
            Exec.ok(
                "openssl",
                "x509",
                "-in",
                ours.cert().toString(),
                "-noout",
                "-ext",
                "subjectAltName"))
        .contains("IP Address:127.0.0.1", "DNS:localhost");

    HttpsServer server = okServer(ours);
    try {
      for (String host : List.of("127.0.0.1", "localhost")) {
        URI uri = URI.create("https://" + host + ":" + server.getAddress().getPort() + "/");
        HttpClient trusting =
            HttpClient.newBuilder().sslContext(Tls.clientContext(ours.caCert())).build();
        assertThat(
                trusting
                    .send(HttpRequest.newBuilder(uri).build(), HttpResponse.BodyHandlers.ofString())
                    .body())
            .isEqualTo("ok");
      }
      URI uri = URI.create("https://127.0.0.1:" + server.getAddress().getPort() + "/");
      HttpClient stranger =
          HttpClient.newBuilder().sslContext(Tls.clientContext(other.caCert())).build();
      assertThatThrownBy(
              () ->
                  stranger.send(
                      HttpRequest.newBuilder(uri).build(), HttpResponse.BodyHandlers.ofString()))
          .isInstanceOf(SSLHandshakeException.class);
    } finally {
      server.stop(0);
    }
  }

  @Test
  void inSharedModeAnAgentReachedByAnAddressItsCertificateDoesNotNameIsTrustedThroughItsCa()
      throws Exception {
    // clientContext is the shared-certificate mode (--agent-identity=ca, the chart's default): the
    // chart cannot know node IPs when it issues one certificate for all agents, so trust comes from
    // the CA signature alone. Per-node identity is checked in client.AgentIdentityTest.
    CertificateAuthority.Issued ours =
        CertificateAuthority.generate(dir.resolve("named"), List.of("xenvbd-agent.example"));
    CertificateAuthority.Issued other =
        CertificateAuthority.generate(dir.resolve("other"), List.of("127.0.0.1"));
    HttpsServer server = okServer(ours);
    try {
      URI uri = URI.create("https://127.0.0.1:" + server.getAddress().getPort() + "/");
      HttpClient trusting =
          HttpClient.newBuilder().sslContext(Tls.clientContext(ours.caCert())).build();
      assertThat(
              trusting
                  .send(HttpRequest.newBuilder(uri).build(), HttpResponse.BodyHandlers.ofString())
                  .body())
          .isEqualTo("ok");
      HttpClient stranger =
          HttpClient.newBuilder().sslContext(Tls.clientContext(other.caCert())).build();
      assertThatThrownBy(
              () ->
                  stranger.send(
                      HttpRequest.newBuilder(uri).build(), HttpResponse.BodyHandlers.ofString()))
          .isInstanceOf(SSLHandshakeException.class);
    } finally {
      server.stop(0);
    }
  }

  /** An HTTPS server on 127.0.0.1 with the generated certificate that answers "ok". */
  static HttpsServer okServer(CertificateAuthority.Issued tls) throws Exception {
    HttpsServer server = HttpsServer.create(new InetSocketAddress("127.0.0.1", 0), 0);
    server.setHttpsConfigurator(new HttpsConfigurator(Tls.serverContext(tls.cert(), tls.key())));
    server.createContext(
        "/",
        e -> {
          e.sendResponseHeaders(200, 2);
          e.getResponseBody().write("ok".getBytes());
          e.close();
        });
    server.start();
    return server;
  }

  @Test
  void keysInEveryUnencryptedPemFormOpensslAndHelmWriteAreReadWithoutBouncyCastle()
      throws Exception {
    // The node image carries no BouncyCastle, so Tls reads PEM keys with the JDK: PKCS#1 RSA is
    // what
    // the chart's genSignedCert writes, SEC1 (after an EC PARAMETERS block) what openssl ecparam
    // writes.
    String[][] forms = {
      {"rsa-pkcs1", "genrsa -traditional 2048", "BEGIN RSA PRIVATE KEY"},
      {"rsa-pkcs8", "genpkey -algorithm RSA -pkeyopt rsa_keygen_bits:2048", "BEGIN PRIVATE KEY"},
      {"ec-sec1", "ecparam -name prime256v1 -genkey", "BEGIN EC PRIVATE KEY"},
      {"ec-pkcs8", "genpkey -algorithm EC -pkeyopt ec_paramgen_curve:P-384", "BEGIN PRIVATE KEY"},
      {"ed25519", "genpkey -algorithm ed25519", "BEGIN PRIVATE KEY"},
    };
    for (String[] form : forms) {
      Path key = dir.resolve(form[0] + ".key");
      List<String> gen = new ArrayList<>(List.of(form[1].split(" ")));
      gen.addAll(1, List.of("-out", key.toString())); // genrsa wants its bit count last
      gen.add(0, "openssl");
      Exec.ok(gen.toArray(String[]::new));
      assertThat(Files.readString(key)).as(form[0]).contains(form[2]);
      Path cert = dir.resolve(form[0] + ".crt");
      Exec.ok(
          "openssl",
          "req",
          "-x509",
          "-key",
          key.toString(),
          "-subj",
          "/CN=127.0.0.1",
          "-addext",
          "subjectAltName=IP:127.0.0.1",
          "-days",
          "1",
          "-out",
          cert.toString());

      // The handshake succeeds only if the key read is the certificate's key.
      HttpsServer server = okServer(new CertificateAuthority.Issued(cert, cert, key));
      try {
        URI uri = URI.create("https://127.0.0.1:" + server.getAddress().getPort() + "/");
        HttpClient trusting = HttpClient.newBuilder().sslContext(Tls.clientContext(cert)).build();
        assertThat(
                trusting
                    .send(HttpRequest.newBuilder(uri).build(), HttpResponse.BodyHandlers.ofString())
                    .body())
            .as(form[0])
            .isEqualTo("ok");
      } finally {
        server.stop(0);
      }
    }
  }

  @Test
  void anEncryptedKeyIsRefusedWithWhatToGive() throws Exception {
    Path key = dir.resolve("encrypted.key");
    Exec.ok(
        "openssl",
        "genrsa",
        "-traditional",
        "-aes128",
        "-passout",
        "pass:secret",
        "-out",
        key.toString(),
        "2048");
    assertThat(Files.readString(key)).contains("Proc-Type: 4,ENCRYPTED");
    Path cert = CertificateAuthority.generate(dir.resolve("ca"), List.of("127.0.0.1")).cert();
    assertThatThrownBy(() -> Tls.serverContext(cert, key))
        .hasMessageContaining("no unencrypted private key found in " + key)
        .hasMessageContaining("give a PEM certificate and its matching PEM private key");
  }

  @Test
  void unreadableKeyMaterialSaysWhatToGive() throws Exception {
    Path bogus = Files.writeString(dir.resolve("bogus.pem"), "not a pem\n");
    assertThatThrownBy(() -> Tls.serverContext(bogus, bogus))
        .hasMessageContaining("give a PEM certificate");
    assertThatThrownBy(() -> Tls.clientContext(bogus))
        .hasMessageContaining("PEM certificate of the CA");
  }
}
