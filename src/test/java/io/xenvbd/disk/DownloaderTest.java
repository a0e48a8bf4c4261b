package io.xenvbd.disk;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.catchThrowableOfType;

import com.sun.net.httpserver.HttpExchange;
import com.sun.net.httpserver.HttpHandler;
import com.sun.net.httpserver.HttpServer;
import com.sun.net.httpserver.HttpsConfigurator;
import com.sun.net.httpserver.HttpsServer;
import io.xenvbd.ca.CertificateAuthority;
import io.xenvbd.tls.Tls;
import java.io.IOException;
import java.net.InetSocketAddress;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.List;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicInteger;
import java.util.concurrent.atomic.AtomicReference;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;
import org.junit.jupiter.api.io.TempDir;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.ValueSource;

/**
 * Archive downloads against loopback servers this test starts: what is refused never connects (a
 * {@link Canary} counts connections), what is allowed arrives whole, and a stalled, huge or hostile
 * server fails with a message that carries no byte of its body.
 */
@Timeout(value = 60, unit = TimeUnit.SECONDS) // a hang fails instead of stalling the build
class DownloaderTest {
  @TempDir Path tmp;
  private HttpServer server;

  @AfterEach
  void stop() {
    if (server != null) server.stop(0);
  }

  private String serve(String path, HttpHandler handler) throws IOException {
    if (server == null) {
      server = HttpServer.create(new InetSocketAddress("127.0.0.1", 0), 16);
      server.start();
    }
    server.createContext(path, handler);
    return base() + path;
  }

  private String base() {
    return "http://127.0.0.1:" + server.getAddress().getPort();
  }

  private static void send(HttpExchange ex, int status, String body) throws IOException {
    byte[] b = body.getBytes(StandardCharsets.UTF_8);
    ex.sendResponseHeaders(status, b.length == 0 ? -1 : b.length);
    if (b.length > 0) ex.getResponseBody().write(b);
    ex.close();
  }

  private static void redirect(HttpExchange ex, String location) throws IOException {
    ex.getResponseHeaders().add("Location", location);
    ex.sendResponseHeaders(302, -1);
    ex.close();
  }

  /**
   * A short idle timeout: if a refusal ever let a request through to a silent canary, the test
   * fails fast.
   */
  private static Downloader downloader(UrlPolicy policy) {
    return new Downloader(policy, Duration.ofSeconds(5), Duration.ofMinutes(1), null);
  }

  private static UrlPolicy allow(List<String> prefixes, String... privateHosts) {
    return new UrlPolicy(prefixes, List.of(privateHosts));
  }

  private DiskException refused(Downloader d, String url, long maxBytes) {
    DiskException e =
        catchThrowableOfType(
            () -> d.download(url, tmp.resolve("download"), maxBytes), DiskException.class);
    assertThat(e).as("expected a DiskException for " + url).isNotNull();
    assertThat(e.getMessage()).doesNotContain("\n");
    assertThat(Thread.currentThread().isInterrupted())
        .as("no interrupt leaks out of a download")
        .isFalse();
    return e;
  }

  @Test
  void nothingIsFetchedByDefault() throws IOException {
    try (Canary canary = Canary.silent()) {
      DiskException e = refused(downloader(UrlPolicy.none()), canary.url("/root.tar"), 1 << 20);
      assertThat(e.code()).isEqualTo(ErrorCode.SourceNotAllowed);
      assertThat(e.getMessage())
          .contains(
              canary.url("/root.tar"), "the agent's admin must allow its prefix with --allow-url");
      assertThat(canary.connections).hasValue(0);
      assertThat(tmp.resolve("download")).doesNotExist();
    }
  }

  @Test
  void anAllowedPrefixStillNeverReachesLoopbackUnlessTheAdminAllowedTheHostByName()
      throws IOException {
    try (Canary canary = Canary.silent()) {
      String byName = "http://localhost:" + canary.port() + "/";
      UrlPolicy prefixesOnly = allow(List.of(canary.url("/"), byName));
      for (String url : List.of(canary.url("/root.tar"), byName + "root.tar")) {
        DiskException e = refused(downloader(prefixesOnly), url, 1 << 20);
        assertThat(e.code()).isEqualTo(ErrorCode.SourceNotAllowed);
        assertThat(e.getMessage())
            .contains("loopback", "must allow that host with --allow-private-host");
      }
      // 127.0.0.1 allowed by name does not allow localhost, which resolves to the same address.
      DiskException e =
          refused(downloader(allow(List.of(byName), "127.0.0.1")), byName + "root.tar", 1 << 20);
      assertThat(e.code()).isEqualTo(ErrorCode.SourceNotAllowed);
      assertThat(canary.connections).hasValue(0);
    }
  }

  @Test
  void anAllowedPrefixAndHostDownloadTheArchiveWhole() throws IOException {
    String url = serve("/images/root.tar", ex -> send(ex, 200, "tar bytes"));
    new Downloader(allow(List.of(base() + "/images/"), "127.0.0.1"))
        .download(url, tmp.resolve("download"), 1 << 20);
    assertThat(tmp.resolve("download")).hasContent("tar bytes");
  }

  @Test
  void aRedirectIsFollowedOnlyWhereTheFirstUrlCouldGo() throws IOException {
    try (Canary canary = Canary.silent()) {
      String toUnlisted = serve("/to-unlisted", ex -> redirect(ex, canary.url("/x.tar")));
      String toLocalhost =
          serve(
              "/to-localhost", ex -> redirect(ex, "http://localhost:" + canary.port() + "/x.tar"));
      serve("/final.tar", ex -> send(ex, 200, "after a hop"));
      String relative = serve("/relative", ex -> redirect(ex, "final.tar"));
      UrlPolicy policy =
          allow(List.of(base() + "/", "http://localhost:" + canary.port() + "/"), "127.0.0.1");
      Downloader d = downloader(policy);

      DiskException unlisted = refused(d, toUnlisted, 1 << 20);
      assertThat(unlisted.code()).isEqualTo(ErrorCode.SourceNotAllowed);
      assertThat(unlisted.getMessage())
          .contains("redirected to " + canary.url("/x.tar"), "--allow-url");
      DiskException loopback = refused(d, toLocalhost, 1 << 20);
      assertThat(loopback.code()).isEqualTo(ErrorCode.SourceNotAllowed);
      assertThat(loopback.getMessage()).contains("loopback", "--allow-private-host");
      assertThat(canary.connections).hasValue(0);

      d.download(relative, tmp.resolve("download"), 1 << 20);
      assertThat(tmp.resolve("download")).hasContent("after a hop");
    }
  }

  @Test
  void moreThanFiveRedirectsAreRefused() throws IOException {
    AtomicInteger requests = new AtomicInteger();
    String loop =
        serve(
            "/loop",
            ex -> {
              requests.incrementAndGet();
              redirect(ex, "/loop");
            });
    DiskException e =
        refused(new Downloader(allow(List.of(base() + "/"), "127.0.0.1")), loop, 1 << 20);
    assertThat(e.code()).isEqualTo(ErrorCode.CommandFailed);
    assertThat(e.getMessage()).contains("redirected more than 5 times");
    assertThat(requests).hasValue(6);
  }

  @Test
  void anHttpsUrlIsNeverRedirectedToPlainHttp() throws Exception {
    CertificateAuthority.Issued tls =
        CertificateAuthority.generate(tmp.resolve("tls"), List.of("127.0.0.1", "localhost"));
    HttpsServer https = HttpsServer.create(new InetSocketAddress("127.0.0.1", 0), 8);
    https.setHttpsConfigurator(new HttpsConfigurator(Tls.serverContext(tls.cert(), tls.key())));
    try (Canary canary = Canary.silent()) {
      https.createContext("/down", ex -> redirect(ex, canary.url("/x.tar")));
      https.start();
      String secure = "https://127.0.0.1:" + https.getAddress().getPort() + "/";
      Downloader d =
          new Downloader(
              allow(List.of(secure, canary.url("/")), "127.0.0.1"),
              Duration.ofSeconds(5),
              Duration.ofMinutes(1),
              Tls.clientContext(tls.caCert()));
      DiskException e = refused(d, secure + "down", 1 << 20);
      assertThat(e.code()).isEqualTo(ErrorCode.SourceNotAllowed);
      assertThat(e.getMessage()).contains("redirected from https to", "never downgrades");
      assertThat(canary.connections).hasValue(0);
    } finally {
      https.stop(0);
    }
  }

  @Test
  void aServerThatStallsIsDroppedAfterTheIdleTimeout() throws IOException {
    for (String answer :
        List.of("", "HTTP/1.1 200 OK\r\nContent-Length: 100000\r\n\r\nfirst bytes")) {
      try (Canary stalls = Canary.answering(answer)) {
        Downloader d =
            new Downloader(
                allow(List.of(stalls.url("/")), "127.0.0.1"),
                Duration.ofMillis(500),
                Duration.ofMinutes(5),
                null);
        DiskException e = refused(d, stalls.url("/root.tar"), 1 << 20);
        assertThat(e.code()).isEqualTo(ErrorCode.CommandFailed);
        assertThat(e.getMessage()).contains("stopped: no ").contains("check that the server is up");
      }
    }
  }

  @Test
  void aServerThatTricklesForeverIsDroppedAtTheDeadline() throws IOException {
    String url =
        serve(
            "/trickle",
            ex -> {
              ex.sendResponseHeaders(200, 0);
              try {
                for (int i = 0; i < 600; i++) {
                  ex.getResponseBody().write('x');
                  ex.getResponseBody().flush();
                  Thread.sleep(100);
                }
              } catch (InterruptedException | IOException ignored) {
                // the client went away
              }
              ex.close();
            });
    Downloader d =
        new Downloader(
            allow(List.of(base() + "/"), "127.0.0.1"),
            Duration.ofSeconds(5),
            Duration.ofSeconds(1),
            null);
    DiskException e = refused(d, url, 1 << 20);
    assertThat(e.code()).isEqualTo(ErrorCode.CommandFailed);
    assertThat(e.getMessage()).contains("not finished within 1 s");
  }

  @Test
  void interruptingTheCallerAbortsTheDownload() throws Exception {
    try (Canary stalls =
        Canary.answering("HTTP/1.1 200 OK\r\nContent-Length: 100000\r\n\r\nfirst bytes")) {
      Downloader d =
          new Downloader(
              allow(List.of(stalls.url("/")), "127.0.0.1")); // the default 60 s idle timeout
      AtomicReference<Throwable> failure = new AtomicReference<>();
      Thread build =
          new Thread(
              () -> {
                try {
                  d.download(stalls.url("/root.tar"), tmp.resolve("download"), 1 << 20);
                } catch (Throwable t) {
                  failure.set(t);
                }
              });
      build.start();
      assertThat(stalls.connected.await(20, TimeUnit.SECONDS)).isTrue();
      build.interrupt();
      build.join(TimeUnit.SECONDS.toMillis(20));
      assertThat(build.isAlive()).isFalse();
      assertThat(failure.get())
          .isInstanceOfSatisfying(
              DiskException.class, e -> assertThat(e.code()).isEqualTo(ErrorCode.Interrupted));
    }
  }

  @Test
  void anArchiveLargerThanTheDiskIsRefusedWhetherOrNotItSaysSo() throws IOException {
    byte[] big = new byte[3000];
    String declared =
        serve(
            "/declared.tar",
            ex -> {
              ex.sendResponseHeaders(200, big.length);
              ex.getResponseBody().write(big);
              ex.close();
            });
    String chunked =
        serve(
            "/chunked.tar",
            ex -> {
              ex.sendResponseHeaders(200, 0);
              ex.getResponseBody().write(big);
              ex.close();
            });
    Downloader d = new Downloader(allow(List.of(base() + "/"), "127.0.0.1"));
    for (String url : List.of(declared, chunked)) {
      DiskException e = refused(d, url, 1000);
      assertThat(e.code()).isEqualTo(ErrorCode.InvalidRequest);
      assertThat(e.getMessage()).contains("is larger than the disk (spec.size, 1000 bytes)");
      Path file = tmp.resolve("download");
      assertThat(Files.exists(file) ? Files.size(file) : 0).isLessThanOrEqualTo(1000);
    }
  }

  @Test
  void aFailedDownloadSaysTheStatusNeverTheBody() throws IOException {
    String secret = "SECRET-" + "f".repeat(64);
    String error = serve("/error.tar", ex -> send(ex, 500, secret));
    String missing = serve("/missing.tar", ex -> send(ex, 404, secret));
    String refusedRedirect =
        serve(
            "/away",
            ex -> {
              ex.getResponseHeaders().add("Location", "http://127.0.0.1:1/");
              byte[] b = secret.getBytes(StandardCharsets.UTF_8);
              ex.sendResponseHeaders(302, b.length);
              ex.getResponseBody().write(b);
              ex.close();
            });
    Downloader d = new Downloader(allow(List.of(base() + "/"), "127.0.0.1"));
    assertThat(refused(d, error, 1 << 20).getMessage())
        .contains("HTTP 500")
        .doesNotContain("SECRET", "ffff");
    assertThat(refused(d, missing, 1 << 20).getMessage())
        .contains("HTTP 404")
        .doesNotContain("SECRET", "ffff");
    assertThat(refused(d, refusedRedirect, 1 << 20).getMessage()).doesNotContain("SECRET", "ffff");
    try (Canary notHttp = Canary.answering(secret + "\r\n\r\n")) {
      DiskException e =
          refused(
              downloader(allow(List.of(notHttp.url("/")), "127.0.0.1")),
              notHttp.url("/x"),
              1 << 20);
      assertThat(e.code()).isEqualTo(ErrorCode.CommandFailed);
      assertThat(e.getMessage()).doesNotContain("SECRET", "ffff");
    }
  }

  @ParameterizedTest
  @ValueSource(
      strings = {
        "http://%zz/",
        "http:///x",
        "http://[::1/",
        "https://",
        "http://a b/x.tar",
        "http://mirror.example/x y.tar",
        "http://user:pw@mirror.example/x.tar",
        "https://mirror.example/x/%2e%2e/y.tar",
        "http://mirror.example:0/x.tar",
        "http://mirror_example/x.tar",
        "http://mirror.example/\nx.tar"
      })
  void aMalformedUrlIsAnInvalidRequestInOneSentence(String url) {
    DiskException e = refused(downloader(allow(List.of("http://mirror.example/"))), url, 1 << 20);
    assertThat(e.code()).isEqualTo(ErrorCode.InvalidRequest);
    assertThat(e.getMessage())
        .startsWith("archive URL ")
        .endsWith(": fix spec.populate.archive.source")
        .doesNotContain("\n", ". ");
  }
}
