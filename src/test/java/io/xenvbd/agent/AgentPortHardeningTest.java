package io.xenvbd.agent;

import static org.assertj.core.api.Assertions.assertThat;
import static org.awaitility.Awaitility.await;

import java.io.IOException;
import java.net.InetSocketAddress;
import java.net.URI;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.net.http.HttpTimeoutException;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.Random;
import java.util.Set;
import java.util.TreeSet;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** The agent's port against callers that want to tie it up or probe it, over real HTTPS. */
class AgentPortHardeningTest {
  @TempDir Path dir;
  AgentHarness h;

  @BeforeEach
  void start() throws Exception {
    h = AgentHarness.start(dir, null);
  }

  @AfterEach
  void stop() {
    h.close();
  }

  @Test
  void probesAnswerWhileEveryApiThreadIsHeldBySlowBodies() throws Exception {
    InetSocketAddress agent = h.agent.address();
    List<RawHttps> slow = new ArrayList<>();
    try {
      // Each sends the head of a PUT and then its body a byte at a time: it holds an API thread
      // (or a place in the queue) for as long as it keeps sending.
      for (int i = 0; i < AgentServer.API_THREADS + AgentServer.API_QUEUE; i++) {
        RawHttps c = RawHttps.connect(h.clientSsl, agent, Duration.ofSeconds(5));
        c.send(
            "PUT /v1/disks/default/slow"
                + i
                + " HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer "
                + h.token
                + "\r\nContent-Type: application/json\r\nContent-Length: 1000\r\n\r\n{");
        slow.add(c);
      }
      await()
          .atMost(Duration.ofSeconds(60))
          .pollInterval(Duration.ofMillis(200))
          .untilAsserted(
              () -> {
                trickle(slow);
                HttpResponse<String> node = get("/v1/node", h.token);
                assertThat(node.statusCode()).isEqualTo(503);
                assertThat(AgentHarness.json(node).get("code").asText()).isEqualTo("Busy");
              });

      trickle(slow);
      assertThat(get("/healthz", null).statusCode()).isEqualTo(200);
      assertThat(get("/readyz", null).statusCode()).isEqualTo(200);
      assertThat(get("/metrics", null).statusCode()).isEqualTo(200);
      assertThat(get("/v1/node", "wrong").statusCode()).isEqualTo(401);
    } finally {
      slow.forEach(RawHttps::close);
    }
    // The slow callers gone, the API threads are free again.
    await()
        .atMost(Duration.ofSeconds(60))
        .pollInterval(Duration.ofMillis(200))
        .until(() -> get("/v1/node", h.token).statusCode() == 200);
  }

  /**
   * Found in review: a GET of the ticket route with any {@code Authorization: Ticket} and a body
   * declared but never sent went to an API thread, whose 401 first waited for that body (30 s); 80
   * such connections, with no credential at all, kept every operator call at 503. The probes read
   * such a body too, on the connection threads.
   */
  @Test
  void callersWithoutTheTokenCannotHoldAThreadWithABodyTheyNeverSend() throws Exception {
    InetSocketAddress agent = h.agent.address();
    List<RawHttps> callers = new ArrayList<>();
    try {
      for (int i = 0; i < AgentServer.API_THREADS + AgentServer.API_QUEUE + 16; i++) {
        RawHttps c = RawHttps.connect(h.clientSsl, agent, Duration.ofSeconds(5));
        String path = i % 4 == 0 ? "/healthz" : i % 4 == 1 ? "/metrics" : "/v1/transfer";
        c.send(
            "GET "
                + path
                + " HTTP/1.1\r\nHost: x\r\nAuthorization: Ticket AAAA"
                + i
                + "\r\nContent-Length: 20000000\r\n\r\n");
        callers.add(c);
      }
      for (RawHttps c : callers) {
        RawHttps.Response r = c.readResponse();
        assertThat(r.status()).isEqualTo(400);
        assertThat(r.body()).contains("takes no request body");
      }
      HttpResponse<String> node = get("/v1/node", h.token);
      assertThat(node.statusCode()).as(node.body()).isEqualTo(200);
    } finally {
      callers.forEach(RawHttps::close);
    }
    // Without a body, a ticket this agent never issued is refused at once, before any API thread.
    List<RawHttps> unknown = new ArrayList<>();
    try {
      for (int i = 0; i < AgentServer.API_THREADS + AgentServer.API_QUEUE + 16; i++) {
        RawHttps c = RawHttps.connect(h.clientSsl, agent, Duration.ofSeconds(5));
        c.send(
            "GET /v1/transfer HTTP/1.1\r\nHost: x\r\nAuthorization: Ticket BBBB" + i + "\r\n\r\n");
        unknown.add(c);
      }
      for (RawHttps c : unknown) {
        RawHttps.Response r = c.readResponse();
        assertThat(r.status()).isEqualTo(401);
        assertThat(r.body()).contains("ticket is unknown, expired or already used");
      }
    } finally {
      unknown.forEach(RawHttps::close);
    }
    assertThat(get("/v1/node", h.token).statusCode()).isEqualTo(200);
  }

  @Test
  void inventedMethodsAndStatusesAddOneOtherSeriesNotOneEach() throws Exception {
    assertThat(h.call("GET", "/v1/node", null).statusCode()).isEqualTo(200);
    // The agent counts a request once its answer is sent, so the client can read /metrics before
    // that GET is counted (seen in CI): wait for it, or it would pass for one of the series below.
    String get200 = "xenvbd_agent_http_requests_total{code=\"200\",method=\"GET\"}";
    await()
        .atMost(Duration.ofSeconds(10))
        .pollInterval(Duration.ofMillis(20))
        .until(() -> requestSeries().contains(get200));
    Set<String> before = requestSeries();
    Random random = new Random(42);
    for (int i = 0; i < 50; i++) {
      StringBuilder method = new StringBuilder();
      for (int j = 0; j < 8; j++) method.append((char) ('A' + random.nextInt(26)));
      // Half without the token (401), half with it on a path that allows only GET (405).
      assertThat(
              h.call(method.toString(), "/v1/node", null, i % 2 == 0 ? null : h.token).statusCode())
          .isIn(401, 405);
    }
    // The last answers may be counted a moment after the client has them.
    await()
        .atMost(Duration.ofSeconds(10))
        .pollInterval(Duration.ofMillis(20))
        .untilAsserted(
            () -> {
              Set<String> added = new TreeSet<>(requestSeries());
              added.removeAll(before);
              assertThat(added)
                  .containsExactlyInAnyOrder(
                      "xenvbd_agent_http_requests_total{code=\"401\",method=\"other\"}",
                      "xenvbd_agent_http_requests_total{code=\"405\",method=\"other\"}");
            });
  }

  @Test
  void withoutTheTokenEveryPathIs401SoNoneCanBeProbed() {
    for (String path :
        List.of(
            "/",
            "/admin",
            "/v1",
            "/v1/",
            "/v1/nothing",
            "/v1/disks/default/d1",
            "/healthz/x",
            "/metrics/")) {
      HttpResponse<String> r = h.call("GET", path, null, null);
      assertThat(r.statusCode()).as(path).isEqualTo(401);
      assertThat(r.headers().firstValue("WWW-Authenticate")).as(path).hasValue("Bearer");
      assertThat(h.call("GET", path, null, h.token).statusCode())
          .as(path + " with the token")
          .isEqualTo(404);
    }
  }

  private Set<String> requestSeries() {
    PrometheusText m = PrometheusText.parse(h.call("GET", "/metrics", null, null).body());
    Set<String> series = new TreeSet<>();
    m.samples.keySet().stream()
        .filter(k -> k.startsWith("xenvbd_agent_http_requests_total{"))
        .forEach(series::add);
    return series;
  }

  private HttpResponse<String> get(String path, String token)
      throws IOException, InterruptedException {
    HttpRequest.Builder b =
        HttpRequest.newBuilder(URI.create(h.agent.endpoint() + path))
            .timeout(Duration.ofSeconds(3));
    if (token != null) b.header("Authorization", "Bearer " + token);
    try {
      return h.http.send(b.build(), HttpResponse.BodyHandlers.ofString());
    } catch (HttpTimeoutException e) {
      throw new AssertionError("GET " + path + " got no answer within 3 s", e);
    }
  }

  /** One more body byte from each slow caller, so that none of them looks idle. */
  private static void trickle(List<RawHttps> slow) throws IOException {
    for (RawHttps c : slow) c.send(" ");
  }
}
