package io.xenvbd.agent;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;
import static org.awaitility.Awaitility.await;

import com.sun.net.httpserver.HttpsConfigurator;
import com.sun.net.httpserver.HttpsServer;
import io.xenvbd.ca.CertificateAuthority;
import io.xenvbd.client.AgentTrust;
import io.xenvbd.client.HttpAgentClient;
import io.xenvbd.client.NodeTokens;
import io.xenvbd.disk.UrlPolicy;
import io.xenvbd.protocol.AgentClientFactory;
import io.xenvbd.protocol.AgentUnreachableException;
import io.xenvbd.protocol.DiskSpec;
import io.xenvbd.protocol.DiskSpec.Filesystem;
import io.xenvbd.protocol.DiskState;
import io.xenvbd.protocol.PutDiskRequest;
import io.xenvbd.testing.Host;
import io.xenvbd.testing.RequiresRoot;
import io.xenvbd.testing.SecretVolume;
import io.xenvbd.tls.Tls;
import java.io.IOException;
import java.io.InputStream;
import java.io.OutputStream;
import java.math.BigInteger;
import java.net.InetSocketAddress;
import java.net.URI;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.security.SecureRandom;
import java.security.cert.CertificateFactory;
import java.security.cert.X509Certificate;
import java.time.Duration;
import java.util.List;
import java.util.Map;
import java.util.concurrent.CopyOnWriteArrayList;
import java.util.concurrent.atomic.AtomicInteger;
import javax.net.ssl.SSLContext;
import javax.net.ssl.SSLHandshakeException;
import javax.net.ssl.SSLSocket;
import javax.net.ssl.TrustManager;
import javax.net.ssl.X509TrustManager;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * Rotation without downtime, as an admin does it with Kubernetes Secrets mounted as files: a real
 * agent over HTTPS and the operator's production client, every credential in a directory laid out
 * and updated the way the kubelet does ({@link SecretVolume}), disks building all along and the
 * operator's client polling them. No call fails during a rotation; once the overlap is over the
 * replaced token gets 401 and a server with a certificate from the replaced CA fails the handshake.
 */
@RequiresRoot
class CredentialRotationTest {
  static final Duration OVERLAP = Duration.ofSeconds(8);

  /** The agent's poll interval plus slack: how long a change may take to be noticed. */
  static final Duration NOTICE = Duration.ofSeconds(6);

  static final List<String> NAMES = List.of("node-a", "127.0.0.1");
  static final List<String> DISKS = List.of("d0", "d1", "d2");

  @TempDir Path dir;
  TricklingArchiveServer archives;
  CertificateAuthority ca1;
  CertificateAuthority.Issued first;
  SecretVolume agentToken;
  SecretVolume agentTls;
  SecretVolume operatorToken;
  SecretVolume operatorCa;
  Agent agent;
  String endpoint;
  AgentTrust trust;
  AgentClientFactory operator;
  Poller poller;
  final List<HttpsServer> probes = new CopyOnWriteArrayList<>();

  @BeforeEach
  void start() throws Exception {
    Path root = Files.createDirectories(dir.resolve("images"));
    Path tree = Files.createDirectories(dir.resolve("tree/etc"));
    Files.writeString(tree.resolve("hostname"), "guest\n");
    archives = new TricklingArchiveServer(tree.getParent(), dir);
    ca1 = CertificateAuthority.create(dir.resolve("ca1"));
    first = ca1.issue(dir.resolve("cert1"), NAMES);
    agentToken = SecretVolume.create(dir.resolve("agent/token"), Map.of("token", bytes("old\n")));
    agentTls = SecretVolume.create(dir.resolve("agent/tls"), pair(first));
    operatorToken =
        SecretVolume.create(dir.resolve("operator/token"), Map.of("token", bytes("old")));
    operatorCa =
        SecretVolume.create(
            dir.resolve("operator/agent-ca"), Map.of("ca.crt", Files.readAllBytes(ca1.caCert())));
    agent =
        Agent.start(
            AgentConfig.builder("node-a", root, "old")
                .listen(new InetSocketAddress("127.0.0.1", 0))
                .tls(agentTls.file("tls.crt"), agentTls.file("tls.key"))
                .tokenFile(agentToken.file("token"))
                .rotationOverlap(OVERLAP)
                .urls(
                    new UrlPolicy(
                        List.of(archives.url("x").replaceFirst("/x\\.tar$", "/")),
                        List.of("127.0.0.1")))
                .build(),
            null);
    endpoint = "https://127.0.0.1:" + agent.address().getPort();
    trust = AgentTrust.fromCa(operatorCa.file("ca.crt"), AgentTrust.Identity.NODE, OVERLAP);
    operator =
        HttpAgentClient.factory(
            NodeTokens.fromFiles(operatorToken.file("token"), null, OVERLAP), trust);
  }

  @AfterEach
  void stop() throws InterruptedException {
    try {
      if (poller != null) poller.stop();
      probes.forEach(p -> p.stop(0));
      archives.close();
      if (agent != null) agent.close();
    } finally {
      Host.releaseAll(dir);
    }
  }

  @Test
  void aTokenRotatedWhileDisksBuildFailsNoCallAndTheOldTokenIsRefusedAfterTheOverlap()
      throws Exception {
    startBuildsAndPoller();
    // Kubelets update the two Secrets at different times; here the operator's is first: the agent
    // still knows only the old token, answers 401, and the operator repeats the call with it.
    double refusedBefore = refused();
    operatorToken.update("token", "new\n");
    await().atMost(NOTICE).until(() -> refused() > refusedBefore);
    assertThat(poller.failures).isEmpty();

    agentToken.update("token", "new");
    await().atMost(NOTICE).until(() -> statusWith("new") == 200);
    assertThat(statusWith("old")).as("the old token during the overlap").isEqualTo(200);

    DISKS.forEach(archives::release);
    awaitAllReady();
    await()
        .atMost(OVERLAP.plus(NOTICE))
        .pollInterval(Duration.ofMillis(200))
        .until(() -> statusWith("old") == 401);
    assertThat(statusWith("new")).isEqualTo(200);
    int calls = poller.calls.get();
    await().atMost(NOTICE).until(() -> poller.calls.get() > calls + 5);
    poller.stop();
    assertThat(poller.failures).as("calls of the operator's client that failed").isEmpty();
    assertThat(agent.credentialProblems()).isEmpty();
  }

  @Test
  void certificatesRotatedFromTheSameCaAndToANewCaFailNoCallAndTheOldCaIsRefusedAfterTheOverlap()
      throws Exception {
    startBuildsAndPoller();
    try (SSLSocket inFlight = handshake()) {
      assertThat(served(inFlight)).isEqualTo(serial(first));

      // 1. a new certificate from the same CA: new handshakes get it at once
      CertificateAuthority.Issued second = ca1.issue(dir.resolve("cert2"), NAMES);
      agentTls.update(pair(second));
      await().atMost(NOTICE).until(() -> servedNow().equals(serial(second)));
      assertThat(poller.failures).isEmpty();

      // 2. a new CA: the operator trusts it first (the old one stays trusted for the overlap) ...
      CertificateAuthority ca2 = CertificateAuthority.create(dir.resolve("ca2"));
      CertificateAuthority.Issued third = ca2.issue(dir.resolve("cert3"), NAMES);
      String oldCaServer = probe(second);
      String newCaServer = probe(third);
      operatorCa.update(Map.of("ca.crt", Files.readAllBytes(ca2.caCert())));
      await().atMost(NOTICE).until(() -> trusted(newCaServer));
      assertThat(trusted(oldCaServer)).as("the old CA during the overlap").isTrue();
      // ... then the agent gets its certificate from the new CA
      agentTls.update(pair(third));
      await().atMost(NOTICE).until(() -> servedNow().equals(serial(third)));

      assertThat(get(inFlight, "/healthz"))
          .as("a connection made before both rotations still answers")
          .startsWith("HTTP/1.1 200");
      DISKS.forEach(archives::release);
      awaitAllReady();

      // after the overlap a server with a certificate from the old CA fails the handshake
      await()
          .atMost(OVERLAP.plus(NOTICE))
          .pollInterval(Duration.ofMillis(200))
          .until(() -> !trusted(oldCaServer));
      assertThatThrownBy(() -> operator.forNode("node-a", oldCaServer).getDisk("ns", "d"))
          .isInstanceOf(AgentUnreachableException.class)
          .satisfies(e -> assertThat(causes(e)).anyMatch(SSLHandshakeException.class::isInstance));
      assertThat(trusted(newCaServer)).isTrue();
    }
    int calls = poller.calls.get();
    await().atMost(NOTICE).until(() -> poller.calls.get() > calls + 5);
    poller.stop();
    assertThat(poller.failures).as("calls of the operator's client that failed").isEmpty();
  }

  @Test
  void brokenNewFilesAreRefusedWithTheFileToFixAndTheOldOnesKeepWorking() throws Exception {
    startBuildsAndPoller();
    agentToken.update("token", " \n");
    await()
        .atMost(NOTICE)
        .until(
            () ->
                agent.credentialProblems().stream()
                    .anyMatch(
                        p -> p.contains("--token-file " + agentToken.file("token") + " is empty")));
    assertThat(statusWith("old")).isEqualTo(200);

    agentTls.update(Map.of("tls.crt", bytes("-----BEGIN CERTIFICATE-----\nnot base64\n")));
    await()
        .atMost(NOTICE)
        .until(
            () ->
                agent.credentialProblems().stream()
                    .anyMatch(
                        p -> p.contains("cannot use TLS certificate " + agentTls.file("tls.crt"))));
    assertThat(servedNow()).isEqualTo(serial(first));
    // a certificate with another certificate's key
    CertificateAuthority.Issued second = ca1.issue(dir.resolve("cert2"), NAMES);
    agentTls.update(
        Map.of(
            "tls.crt",
            Files.readAllBytes(second.cert()),
            "tls.key",
            Files.readAllBytes(first.key())));
    await()
        .atMost(NOTICE)
        .until(
            () ->
                agent.credentialProblems().stream()
                    .anyMatch(p -> p.contains("is not the private key of the certificate")));
    assertThat(servedNow()).isEqualTo(serial(first));
    assertThat(metric("xenvbd_agent_credential_files_refused")).isEqualTo(2.0);

    operatorCa.update("ca.crt", "not a certificate");
    operatorToken.update("token", "");
    await()
        .atMost(NOTICE)
        .until(
            () ->
                trust.error() != null
                    && trust.error().contains(operatorCa.file("ca.crt").toString()));
    await().atMost(NOTICE).until(() -> operator.credentialProblems().size() == 2);
    assertThat(operator.credentialProblems())
        .anySatisfy(p -> assertThat(p).contains("cannot use CA file " + operatorCa.file("ca.crt")))
        .anySatisfy(
            p ->
                assertThat(p)
                    .contains(
                        "token file " + operatorToken.file("token") + " (--token-file) is empty"));
    int calls = poller.calls.get();
    await().atMost(NOTICE).until(() -> poller.calls.get() > calls + 10);

    // fixed: the token file holds a token again, and it is used
    agentToken.update("token", "old");
    agentTls.update(pair(second));
    await().atMost(NOTICE).until(() -> agent.credentialProblems().isEmpty());
    assertThat(servedNow()).isEqualTo(serial(second));
    DISKS.forEach(archives::release);
    awaitAllReady();
    poller.stop();
    assertThat(poller.failures).as("calls of the operator's client that failed").isEmpty();
  }

  // ---- the rig

  /** Three disks that build until their archives are released, and the operator polling them. */
  void startBuildsAndPoller() {
    for (String name : DISKS) {
      DiskSpec.Populate populate =
          new DiskSpec.Populate(
              null, new DiskSpec.Archive(archives.url(name), null), null, null, null);
      operator
          .forNode("node-a", endpoint)
          .putDisk(
              "ns-" + name,
              name,
              new PutDiskRequest(
                  "uid-" + name,
                  new DiskSpec(null, "16Mi", Filesystem.ext4, populate, null, null, false, null)));
    }
    // two build (the agent's two workers), one waits for a worker: all of them in progress
    await().atMost(NOTICE).until(() -> archives.requested.size() >= 2);
    poller = new Poller();
  }

  void awaitAllReady() {
    await()
        .atMost(Duration.ofSeconds(60))
        .pollInterval(Duration.ofMillis(200))
        .until(
            () ->
                DISKS.stream()
                    .allMatch(
                        n ->
                            operator
                                    .forNode("node-a", endpoint)
                                    .getDisk("ns-" + n, n)
                                    .orElseThrow()
                                    .phase()
                                == DiskState.Phase.Ready));
  }

  /** The operator's client, as every reconcile uses it: GET each disk, again and again. */
  final class Poller {
    final List<String> failures = new CopyOnWriteArrayList<>();
    final AtomicInteger calls = new AtomicInteger();
    private volatile boolean running = true;
    private final Thread thread;

    Poller() {
      thread =
          new Thread(
              () -> {
                while (running) {
                  for (String name : DISKS) {
                    try {
                      DiskState s =
                          operator
                              .forNode("node-a", endpoint)
                              .getDisk("ns-" + name, name)
                              .orElseThrow();
                      if (s.phase() == DiskState.Phase.Failed)
                        failures.add(name + " failed: " + s.error());
                      calls.incrementAndGet();
                    } catch (RuntimeException e) {
                      failures.add(name + ": " + e);
                    }
                  }
                  try {
                    Thread.sleep(50);
                  } catch (InterruptedException e) {
                    return;
                  }
                }
              },
              "operator-poller");
      thread.setDaemon(true);
      thread.start();
    }

    void stop() throws InterruptedException {
      running = false;
      thread.join(10_000);
    }
  }

  /** The status of GET /v1/node with {@code token}, on a fresh connection. */
  int statusWith(String token) throws Exception {
    HttpClient http = HttpClient.newBuilder().sslContext(Tls.clientContext(ca1.caCert())).build();
    HttpRequest request =
        HttpRequest.newBuilder(URI.create(endpoint + "/v1/node"))
            .header("Authorization", "Bearer " + token)
            .timeout(Duration.ofSeconds(10))
            .build();
    return http.send(request, HttpResponse.BodyHandlers.discarding()).statusCode();
  }

  /** 401 answers the agent gave so far. */
  double refused() throws Exception {
    return metrics().value("xenvbd_agent_http_requests_total", "method", "GET", "code", "401");
  }

  double metric(String name) throws Exception {
    return metrics().value(name);
  }

  PrometheusText metrics() throws Exception {
    HttpClient http = HttpClient.newBuilder().sslContext(observer()).build();
    HttpRequest request =
        HttpRequest.newBuilder(URI.create(endpoint + "/metrics"))
            .timeout(Duration.ofSeconds(10))
            .build();
    return PrometheusText.parse(http.send(request, HttpResponse.BodyHandlers.ofString()).body());
  }

  /**
   * Whether the operator's client (its trust, as configured from the CA file) accepts an HTTPS
   * server presenting {@code cert}.
   */
  boolean trusted(String probeEndpoint) {
    AgentClientFactory probeClients = HttpAgentClient.factory(NodeTokens.shared("probe"), trust);
    try {
      probeClients.forNode("node-a", probeEndpoint).getDisk("ns", "d");
      return true;
    } catch (AgentUnreachableException e) {
      return false;
    }
  }

  /** A server on 127.0.0.1 presenting {@code cert} that answers every request 404. */
  String probe(CertificateAuthority.Issued cert) throws IOException {
    HttpsServer server = HttpsServer.create(new InetSocketAddress("127.0.0.1", 0), 0);
    server.setHttpsConfigurator(new HttpsConfigurator(Tls.serverContext(cert.cert(), cert.key())));
    server.createContext(
        "/",
        e -> {
          e.sendResponseHeaders(404, -1);
          e.close();
        });
    server.start();
    probes.add(server);
    return "https://127.0.0.1:" + server.getAddress().getPort();
  }

  /** A TLS connection to the agent, handshake done, trusting whatever it presents (to look). */
  SSLSocket handshake() throws Exception {
    SSLSocket socket =
        (SSLSocket)
            observer().getSocketFactory().createSocket("127.0.0.1", agent.address().getPort());
    socket.startHandshake();
    return socket;
  }

  BigInteger servedNow() throws Exception {
    try (SSLSocket s = handshake()) {
      return served(s);
    }
  }

  static BigInteger served(SSLSocket socket) throws Exception {
    return ((X509Certificate) socket.getSession().getPeerCertificates()[0]).getSerialNumber();
  }

  static String get(SSLSocket socket, String path) throws IOException {
    OutputStream out = socket.getOutputStream();
    out.write(
        ("GET " + path + " HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\n\r\n")
            .getBytes(StandardCharsets.US_ASCII));
    out.flush();
    InputStream in = socket.getInputStream();
    return new String(in.readNBytes(12), StandardCharsets.US_ASCII);
  }

  /** A client context that accepts any server: only to look at what the agent presents. */
  static SSLContext observer() throws Exception {
    X509TrustManager any =
        new X509TrustManager() {
          @Override
          public void checkClientTrusted(X509Certificate[] c, String a) {}

          @Override
          public void checkServerTrusted(X509Certificate[] c, String a) {}

          @Override
          public X509Certificate[] getAcceptedIssuers() {
            return new X509Certificate[0];
          }
        };
    SSLContext context = SSLContext.getInstance("TLS");
    context.init(null, new TrustManager[] {any}, new SecureRandom());
    return context;
  }

  static BigInteger serial(CertificateAuthority.Issued issued) throws Exception {
    try (InputStream in = Files.newInputStream(issued.cert())) {
      return ((X509Certificate) CertificateFactory.getInstance("X.509").generateCertificate(in))
          .getSerialNumber();
    }
  }

  static Map<String, byte[]> pair(CertificateAuthority.Issued issued) throws IOException {
    return Map.of(
        "tls.crt", Files.readAllBytes(issued.cert()), "tls.key", Files.readAllBytes(issued.key()));
  }

  static byte[] bytes(String s) {
    return s.getBytes(StandardCharsets.UTF_8);
  }

  static List<Throwable> causes(Throwable e) {
    List<Throwable> out = new java.util.ArrayList<>();
    for (Throwable t = e; t != null && !out.contains(t); t = t.getCause()) out.add(t);
    return out;
  }
}
