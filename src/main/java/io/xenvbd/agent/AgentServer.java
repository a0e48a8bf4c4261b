package io.xenvbd.agent;

import com.sun.net.httpserver.HttpExchange;
import com.sun.net.httpserver.HttpServer;
import com.sun.net.httpserver.HttpsConfigurator;
import com.sun.net.httpserver.HttpsServer;
import io.xenvbd.disk.DiskEngine;
import io.xenvbd.disk.DiskException;
import io.xenvbd.protocol.ErrorBody;
import io.xenvbd.protocol.ErrorCodes;
import java.io.IOException;
import java.net.InetSocketAddress;
import java.net.URI;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.atomic.AtomicInteger;
import java.util.function.BooleanSupplier;
import javax.net.ssl.SSLContext;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * The HTTP(S) front: health and metrics, the token check on every {@code /v1} call, and the one
 * place where failures become {@code {code, message}} answers. Disk work never runs on these threads.
 */
final class AgentServer implements AutoCloseable {
  private static final Logger LOG = LoggerFactory.getLogger(AgentServer.class);

  private final HttpServer server;
  private final ExecutorService threads;
  private final byte[] tokenDigest;
  private final boolean metricsRequireToken;
  private final DiskApi api;
  private final Metrics metrics;
  private final DiskEngine engine;
  private final DiskService disks;
  private final BooleanSupplier ready;

  AgentServer(AgentConfig config, SSLContext sslOrNull, DiskApi api, Metrics metrics, DiskEngine engine,
              DiskService disks, BooleanSupplier ready) throws IOException {
    this.tokenDigest = Exchanges.sha256(config.token());
    this.metricsRequireToken = config.metricsRequireToken();
    this.api = api;
    this.metrics = metrics;
    this.engine = engine;
    this.disks = disks;
    this.ready = ready;
    if (sslOrNull == null) {
      server = HttpServer.create(config.listen(), 64);
    } else {
      HttpsServer https = HttpsServer.create(config.listen(), 64);
      https.setHttpsConfigurator(new HttpsConfigurator(sslOrNull));
      server = https;
    }
    AtomicInteger n = new AtomicInteger();
    threads = Executors.newFixedThreadPool(8, r -> {
      Thread t = new Thread(r, "xenvbd-http-" + n.incrementAndGet());
      t.setDaemon(true);
      return t;
    });
    server.setExecutor(threads);
    server.createContext("/", this::handle);
    server.start();
  }

  InetSocketAddress address() {
    return server.getAddress();
  }

  private void handle(HttpExchange exchange) {
    int status = 500;
    try {
      status = route(exchange);
    } catch (ApiError e) {
      status = e.status;
      respondError(exchange, e.status, e.body());
    } catch (DiskException e) {
      ApiError error = ApiError.of(e);
      status = error.status;
      respondError(exchange, error.status, error.body());
    } catch (Exception | Error e) {
      LOG.error("{} {} failed unexpectedly", exchange.getRequestMethod(), exchange.getRequestURI().getRawPath(), e);
      respondError(exchange, 500, new ErrorBody(ErrorCodes.INTERNAL, "the agent failed unexpectedly; its log has the details"));
    } finally {
      metrics.request(exchange.getRequestMethod(), status);
      exchange.close();
    }
  }

  /** Returns the status it answered. */
  private int route(HttpExchange exchange) throws IOException {
    URI uri = exchange.getRequestURI();
    String path = uri.getRawPath();
    switch (path) {
      case "/healthz" -> {
        Exchanges.sendText(exchange, 200, "text/plain", "ok\n");
        return 200;
      }
      case "/readyz" -> {
        boolean ok = ready.getAsBoolean();
        Exchanges.sendText(exchange, ok ? 200 : 503, "text/plain", ok ? "ready\n" : "starting\n");
        return ok ? 200 : 503;
      }
      case "/metrics" -> {
        if (metricsRequireToken) requireToken(exchange);
        String text = metrics.render(engine.loopStatus(), engine.storage(), disks.running(), disks.queued());
        Exchanges.sendText(exchange, 200, Metrics.CONTENT_TYPE, text);
        return 200;
      }
      default -> {
        if (!path.startsWith("/v1/")) {
          throw new ApiError(404, ErrorCodes.NOT_FOUND, "no such path " + path + ": the agent serves /v1/..., /healthz, /readyz, /metrics");
        }
        requireToken(exchange);
        api.handle(exchange, path);
        return exchange.getResponseCode();
      }
    }
  }

  private void requireToken(HttpExchange exchange) {
    if (!Exchanges.hasToken(exchange, tokenDigest)) {
      exchange.getResponseHeaders().set("WWW-Authenticate", "Bearer");
      throw new ApiError(401, ErrorCodes.UNAUTHORIZED,
          "missing or wrong bearer token: send 'Authorization: Bearer <token>' with the token the agent was given");
    }
  }

  private static void respondError(HttpExchange exchange, int status, ErrorBody body) {
    try {
      if (exchange.getResponseCode() != -1) return; // already answered: nothing more can be said
      Exchanges.sendJson(exchange, status, body);
    } catch (IOException e) {
      LOG.debug("could not send the error answer: {}", e.getMessage());
    }
  }

  @Override
  public void close() {
    server.stop(0);
    threads.shutdownNow();
  }
}
