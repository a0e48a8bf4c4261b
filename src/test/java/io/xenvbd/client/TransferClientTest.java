package io.xenvbd.client;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import io.xenvbd.ca.CertificateAuthority;
import io.xenvbd.protocol.AgentException;
import io.xenvbd.protocol.AgentNotTrustedException;
import io.xenvbd.tls.Tls;
import java.io.BufferedReader;
import java.io.EOFException;
import java.io.IOException;
import java.io.InputStream;
import java.io.InputStreamReader;
import java.io.OutputStream;
import java.net.InetAddress;
import java.net.Socket;
import java.nio.charset.StandardCharsets;
import java.nio.file.Path;
import java.time.Duration;
import java.util.List;
import java.util.concurrent.CopyOnWriteArrayList;
import java.util.function.BiConsumer;
import javax.net.ssl.SSLServerSocket;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * The target's side of a window over a raw TLS peer that answers as it likes: the body is exactly
 * the response's Content-Length, a peer that closes sooner fails the read, a response without a
 * length or with endless headers is refused, and a server that cannot prove the source node never
 * sees the ticket.
 */
class TransferClientTest {
  private static final String TICKET = "T".repeat(43);

  @TempDir Path dir;
  private CertificateAuthority ca;
  private SSLServerSocket listener;
  private Thread peer;
  private final List<String> requests = new CopyOnWriteArrayList<>();

  @BeforeEach
  void ca() {
    ca = CertificateAuthority.create(dir.resolve("ca"));
  }

  @AfterEach
  void stop() throws Exception {
    if (listener != null) listener.close();
    if (peer != null) peer.join(10_000);
  }

  @Test
  void theBodyIsExactlyTheContentLengthWhateverThePeerSendsAfterIt() throws Exception {
    serve("node-a", (head, out) -> write(out, head(200, "Content-Length: 5") + "hello" + "more"));
    try (InputStream body = client().open(TICKET)) {
      assertThat(body.readAllBytes()).isEqualTo("hello".getBytes(StandardCharsets.US_ASCII));
    }
    assertThat(requests.get(0))
        .startsWith("GET /v1/transfer HTTP/1.1")
        .contains("Authorization: Ticket " + TICKET);
  }

  @Test
  void aPeerThatClosesBeforeItsContentLengthFailsTheRead() throws Exception {
    serve("node-a", (head, out) -> write(out, head(200, "Content-Length: 100") + "short"));
    try (InputStream body = client().open(TICKET)) {
      assertThatThrownBy(body::readAllBytes)
          .isInstanceOf(EOFException.class)
          .hasMessageContaining("95 of its bytes still to come");
    }
  }

  @Test
  void aWindowWithoutAFixedLengthIsRefused() throws Exception {
    serve(
        "node-a",
        (head, out) ->
            write(out, head(200, "Transfer-Encoding: chunked") + "5\r\nhello\r\n0\r\n\r\n"));
    assertThatThrownBy(() -> client().open(TICKET))
        .isInstanceOf(AgentException.class)
        .hasMessageContaining("without a Content-Length");
  }

  @Test
  void endlessHeadersAreRefusedAtTheirBound() throws Exception {
    serve(
        "node-a",
        (head, out) -> {
          write(out, "HTTP/1.1 200 OK\r\n");
          String line = "X-Filler: " + "x".repeat(1000) + "\r\n";
          for (int i = 0; i < 200; i++) write(out, line);
        });
    assertThatThrownBy(() -> client().open(TICKET))
        .isInstanceOf(AgentException.class)
        .hasMessageContaining("bytes of headers");
  }

  @Test
  void anErrorBodyFromTheSourceCarriesItsCode() throws Exception {
    String json = "{\"code\":\"ImageInUse\",\"message\":\"held by a loop device\"}";
    serve(
        "node-a", (head, out) -> write(out, head(409, "Content-Length: " + json.length()) + json));
    assertThatThrownBy(() -> client().open(TICKET))
        .isInstanceOfSatisfying(
            AgentException.class,
            e -> {
              assertThat(e.code()).isEqualTo("ImageInUse");
              assertThat(e.getMessage()).contains("held by a loop device");
            });
  }

  @Test
  void aServerThatCannotProveTheSourceNodeNeverSeesTheTicket() throws Exception {
    serve("node-b", (head, out) -> write(out, head(200, "Content-Length: 0")));
    assertThatThrownBy(() -> client().open(TICKET)).isInstanceOf(AgentNotTrustedException.class);
    assertThat(requests).noneMatch(r -> r.contains(TICKET));
  }

  // --- helpers ---

  private TransferClient client() {
    return TransferClient.to(
        AgentTrust.fromCa(ca.caCert(), AgentTrust.Identity.NODE),
        "node-a",
        "https://127.0.0.1:" + listener.getLocalPort(),
        Duration.ofSeconds(10));
  }

  /** A TLS peer with a certificate naming {@code node}: reads one request, answers with it. */
  private void serve(String node, BiConsumer<String, OutputStream> answer) throws IOException {
    CertificateAuthority.Issued cert =
        ca.issue(dir.resolve("peer-" + node), List.of(node, "127.0.0.1"));
    listener =
        (SSLServerSocket)
            Tls.serverContext(cert.cert(), cert.key())
                .getServerSocketFactory()
                .createServerSocket(0, 8, InetAddress.getLoopbackAddress());
    peer =
        new Thread(
            () -> {
              try (Socket s = listener.accept()) {
                BufferedReader in =
                    new BufferedReader(
                        new InputStreamReader(s.getInputStream(), StandardCharsets.US_ASCII));
                StringBuilder head = new StringBuilder();
                for (String l = in.readLine(); l != null && !l.isEmpty(); l = in.readLine())
                  head.append(l).append("\r\n");
                requests.add(head.toString());
                answer.accept(head.toString(), s.getOutputStream());
                s.getOutputStream().flush();
              } catch (IOException | java.io.UncheckedIOException closed) {
                // the client went away (a refused certificate, say): the test checks what it saw
              }
            },
            "transfer-peer");
    peer.setDaemon(true);
    peer.start();
  }

  private static String head(int status, String header) {
    return "HTTP/1.1 "
        + status
        + " X\r\nContent-Type: application/octet-stream\r\n"
        + header
        + "\r\n\r\n";
  }

  private static void write(OutputStream out, String s) {
    try {
      out.write(s.getBytes(StandardCharsets.US_ASCII));
    } catch (IOException e) {
      throw new java.io.UncheckedIOException(e);
    }
  }
}
