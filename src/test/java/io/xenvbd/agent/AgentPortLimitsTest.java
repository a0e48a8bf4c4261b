package io.xenvbd.agent;

import static org.assertj.core.api.Assertions.assertThat;

import io.xenvbd.testing.RequiresRoot;
import java.io.IOException;
import java.net.Socket;
import java.net.SocketTimeoutException;
import java.net.URI;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.nio.charset.StandardCharsets;
import java.nio.file.Path;
import java.time.Duration;
import java.util.List;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * The limits the JDK's HTTP server enforces for the agent ({@link HttpLimits}), against a real
 * agent in its own JVM: with the idle and request times shortened by {@code -D} (as an admin could
 * in {@code JAVA_TOOL_OPTIONS}), everything else as {@code xenvbd agent} sets it.
 */
class AgentPortLimitsTest {
  private static final int REQUEST_SECONDS = 6;
  @TempDir static Path dir;
  static ForkedAgent agent;
  static HttpClient http;

  @BeforeAll
  static void start() throws Exception {
    agent =
        ForkedAgent.start(
            dir,
            List.of(
                "-Dsun.net.httpserver.idleInterval=1",
                "-Dsun.net.httpserver.clockTick=250",
                "-Dsun.net.httpserver.maxReqTime=" + REQUEST_SECONDS));
    http =
        HttpClient.newBuilder()
            .sslContext(agent.clientSsl)
            .connectTimeout(Duration.ofSeconds(5))
            .build();
  }

  @AfterAll
  static void stop() throws Exception {
    if (agent != null) agent.close();
  }

  @Test
  void aCallWithoutTheTokenGets401BeforeItsBodyIsSentAndItsConnectionClosed() throws Exception {
    for (String authorization :
        new String[] {"", "Authorization: Bearer wrong\r\n", "Authorization: Basic eDp5\r\n"}) {
      // Reads wait 3 s: less than the request time after which the server would close anyway.
      try (RawHttps c = RawHttps.connect(agent.clientSsl, agent.address, Duration.ofSeconds(3))) {
        c.send(
            "PUT /v1/disks/default/d1 HTTP/1.1\r\nHost: x\r\n"
                + authorization
                + "Content-Type: application/json\r\nContent-Length: 41943040\r\n\r\n");
        RawHttps.Response r = c.readResponse(); // no byte of the 40 MiB body sent
        assertThat(r.status()).as(authorization).isEqualTo(401);
        assertThat(r.headers())
            .containsEntry("connection", "close")
            .containsEntry("www-authenticate", "Bearer");
        assertThat(r.body()).contains("\"code\":\"Unauthorized\"");
        assertThat(c.closedByAgent()).as("connection closed, body not waited for").isTrue();
      }
    }
    assertThat(healthz()).isEqualTo(200);
  }

  @Test
  void aCallWithoutTheTokenHasNoneOfItsBodyReadBeyond64KiB() throws Exception {
    // Each declares more than the 64 KiB a refused call may cost and sends none of it: the 401
    // comes and the connection closes at once, not after the request time (6 s) the server would
    // spend waiting for a body it read.
    for (String body :
        List.of(
            "Content-Length: " + (Exchanges.REFUSED_DRAIN_BYTES + 1),
            "Content-Length: " + (20 << 20),
            "Content-Length: " + Exchanges.MAX_BODY_BYTES,
            "Transfer-Encoding: chunked")) {
      try (RawHttps c = RawHttps.connect(agent.clientSsl, agent.address, Duration.ofSeconds(3))) {
        long start = System.nanoTime();
        c.send(
            "PUT /v1/disks/default/d1 HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer wrong\r\n"
                + "Content-Type: application/json\r\n"
                + body
                + "\r\n\r\n");
        RawHttps.Response r = c.readResponse();
        assertThat(r.status()).as(body).isEqualTo(401);
        assertThat(c.closedByAgent()).as(body + ": closed without waiting for the body").isTrue();
        assertThat(Duration.ofNanos(System.nanoTime() - start))
            .as(body)
            .isLessThan(Duration.ofSeconds(REQUEST_SECONDS - 1));
      }
    }
    assertThat(healthz()).isEqualTo(200);
  }

  @Test
  void aWrongTokenPutWithAnOrdinaryBodyGetsItsAnswerNotAReset() throws Exception {
    // The operator with a stale token must read why it is refused.
    String body =
        AgentHarness.putBody(
            "uid-1", "{\"size\":\"16Mi\",\"filesystem\":\"" + "x".repeat(20_000) + "\"}");
    for (int i = 0; i < 20; i++) {
      HttpRequest put =
          HttpRequest.newBuilder(URI.create(agent.endpoint + "/v1/disks/default/d1"))
              .timeout(Duration.ofSeconds(10))
              .header("Authorization", "Bearer wrong")
              .PUT(HttpRequest.BodyPublishers.ofString(body))
              .build();
      HttpResponse<String> r = http.send(put, HttpResponse.BodyHandlers.ofString());
      assertThat(r.statusCode()).isEqualTo(401);
      assertThat(r.body()).contains("missing or wrong bearer token");
    }
  }

  @Test
  void aConnectionThatSendsNothingIsClosedAndOthersAreAnsweredMeanwhile() throws Exception {
    try (Socket silent = new Socket(agent.address.getAddress(), agent.address.getPort())) {
      long start = System.nanoTime();
      silent.setSoTimeout(20_000);
      assertThat(healthz()).isEqualTo(200);
      assertThat(silent.getInputStream().read())
          .as("closed by the agent (idle interval 1 s)")
          .isEqualTo(-1);
      assertThat(Duration.ofNanos(System.nanoTime() - start))
          .isGreaterThanOrEqualTo(Duration.ofMillis(900));
    }
  }

  @Test
  void aClientSendingItsHeadersSlowlyIsDisconnectedAfterTheRequestTime() throws Exception {
    try (RawHttps slow = RawHttps.connect(agent.clientSsl, agent.address, Duration.ofMillis(300))) {
      long start = System.nanoTime();
      slow.send("GET /healthz HTTP/1.1\r\nHost: x\r\nX-Slow: ");
      boolean closed = false;
      boolean othersAnswered = false;
      while (!closed && Duration.ofNanos(System.nanoTime() - start).toSeconds() < 30) {
        try {
          slow.send("a"); // a byte every 300 ms: never idle, never done
          closed = slow.closedByAgent();
        } catch (IOException e) {
          closed = true;
        }
        if (!othersAnswered && Duration.ofNanos(System.nanoTime() - start).toSeconds() >= 2) {
          assertThat(healthz()).isEqualTo(200);
          othersAnswered = true;
        }
      }
      assertThat(closed).as("disconnected within 30 s").isTrue();
      assertThat(othersAnswered).isTrue();
      assertThat(Duration.ofNanos(System.nanoTime() - start))
          .as("for taking too long, not for what it sent")
          .isGreaterThanOrEqualTo(Duration.ofSeconds(REQUEST_SECONDS - 2));
    }
  }

  @Test
  void headersBeyondTheLimitAreRefusedAndOrdinaryOnesServed() throws Exception {
    assertThat(answerWithHeaders("X-Pad: " + "a".repeat(16 * 1024) + "\r\n")).isEqualTo(200);
    assertThat(answerWithHeaders("X-Pad: " + "a".repeat(HttpLimits.HEADER_BYTES) + "\r\n"))
        .as("too large")
        .isEqualTo(-1);
    StringBuilder many = new StringBuilder();
    for (int i = 0; i <= HttpLimits.HEADER_COUNT; i++)
      many.append("X-H").append(i).append(": x\r\n");
    assertThat(answerWithHeaders(many.toString())).as("too many").isEqualTo(-1);
    assertThat(healthz()).isEqualTo(200);
  }

  /**
   * Each answer leaves as it is written: the agent's end of a connection has TCP_NODELAY. Without
   * it the JDK server's answer body waited for the client's delayed ACK of the head (40 ms and more
   * per call, docs/benchmarks.md 1d). The socket is read from the agent's process as root reads any
   * process's (pidfd_getfd), beside an agent started with nodelay turned off, which must read as
   * off: the probe can tell the two apart.
   */
  @Test
  @RequiresRoot(tools = {"python3:python3"})
  void theAgentsEndOfAConnectionSendsEachAnswerAtOnce() throws Exception {
    assertThat(nodelayOfTheAgentsEnd(agent))
        .as("TCP_NODELAY of the agent's end")
        .containsExactly(1);
    Path nagle = java.nio.file.Files.createDirectories(dir.resolve("nagle"));
    try (ForkedAgent off =
        ForkedAgent.start(nagle, List.of("-Dsun.net.httpserver.nodelay=false"))) {
      assertThat(nodelayOfTheAgentsEnd(off)).as("with nodelay turned off").containsExactly(0);
    }
  }

  /** TCP_NODELAY of the agent's end of a connection that has just had an answer. */
  private static List<Integer> nodelayOfTheAgentsEnd(ForkedAgent a) throws Exception {
    try (RawHttps c = RawHttps.connect(a.clientSsl, a.address, Duration.ofSeconds(10))) {
      c.send("GET /healthz HTTP/1.1\r\nHost: x\r\n\r\n");
      assertThat(c.readResponse().status()).isEqualTo(200);
      Process p =
          new ProcessBuilder(
                  "python3",
                  "-c",
                  NODELAY_PROBE,
                  String.valueOf(a.pid()),
                  String.valueOf(a.address.getPort()),
                  String.valueOf(c.localPort()))
              .redirectErrorStream(true)
              .start();
      String out = new String(p.getInputStream().readAllBytes(), StandardCharsets.UTF_8).strip();
      assertThat(p.waitFor()).as(out).isZero();
      return out.isEmpty()
          ? List.of()
          : java.util.Arrays.stream(out.split(",")).map(Integer::valueOf).toList();
    }
  }

  /**
   * Prints TCP_NODELAY (0 or 1, comma-separated) of each socket of process argv[1] whose local port
   * is argv[2] and peer port argv[3]: found by inode in its /proc net tables, duplicated with
   * pidfd_getfd (syscall 438 on x86-64).
   */
  private static final String NODELAY_PROBE =
      """
      import ctypes, os, socket, sys
      pid, port, peer = (int(a) for a in sys.argv[1:4])
      inodes = set()
      for table in ("tcp", "tcp6"):
          try:
              with open("/proc/%d/net/%s" % (pid, table)) as f:
                  lines = f.read().splitlines()[1:]
          except FileNotFoundError:  # a kernel without IPv6
              continue
          for line in lines:
              c = line.split()
              if int(c[1].rsplit(":", 1)[1], 16) == port and int(c[2].rsplit(":", 1)[1], 16) == peer:
                  inodes.add(c[9])
      libc = ctypes.CDLL(None, use_errno=True)
      pidfd = os.pidfd_open(pid)
      found = []
      for name in os.listdir("/proc/%d/fd" % pid):
          try:
              link = os.readlink("/proc/%d/fd/%s" % (pid, name))
          except OSError:
              continue
          if link.startswith("socket:[") and link[8:-1] in inodes:
              fd = libc.syscall(438, pidfd, int(name), 0)
              if fd < 0:
                  raise OSError(ctypes.get_errno(), "pidfd_getfd")
              s = socket.socket(fileno=fd)
              found.append(1 if s.getsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY) else 0)
              s.close()
      print(",".join(str(v) for v in found))
      """;

  /**
   * The status of GET /healthz sent with these extra headers, or -1 when the connection was closed
   * without an answer.
   */
  private static int answerWithHeaders(String headers) throws IOException {
    try (RawHttps c = RawHttps.connect(agent.clientSsl, agent.address, Duration.ofSeconds(10))) {
      c.send("GET /healthz HTTP/1.1\r\nHost: x\r\n" + headers + "\r\n");
      return c.readResponse().status();
    } catch (SocketTimeoutException e) {
      throw new AssertionError("neither answered nor closed within 10 s", e);
    } catch (IOException e) {
      return -1;
    }
  }

  private static int healthz() throws IOException, InterruptedException {
    HttpRequest get =
        HttpRequest.newBuilder(URI.create(agent.endpoint + "/healthz"))
            .timeout(Duration.ofSeconds(10))
            .build();
    return http.send(get, HttpResponse.BodyHandlers.ofString()).statusCode();
  }
}
