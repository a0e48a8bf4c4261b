package io.xenvbd.operator;

import com.sun.net.httpserver.HttpExchange;
import com.sun.net.httpserver.HttpServer;
import io.xenvbd.metrics.PrometheusText;
import java.io.IOException;
import java.io.OutputStream;
import java.net.InetSocketAddress;
import java.nio.charset.StandardCharsets;
import java.util.concurrent.Executors;
import java.util.function.BooleanSupplier;
import java.util.function.Supplier;

/**
 * /healthz, /readyz and /metrics on the management port (the JDK's HTTP server; no token: no
 * secrets here).
 */
final class ManagementServer implements AutoCloseable {
  private final HttpServer server;

  ManagementServer(
      int port, BooleanSupplier live, Supplier<String> notReadyBecause, Supplier<String> metrics)
      throws IOException {
    server = HttpServer.create(new InetSocketAddress(port), 0);
    server.setExecutor(
        Executors.newFixedThreadPool(
            2,
            r -> {
              Thread t = new Thread(r, "xenvbd-management");
              t.setDaemon(true);
              return t;
            }));
    server.createContext(
        "/healthz",
        ex ->
            respond(
                ex,
                live.getAsBoolean() ? 200 : 503,
                live.getAsBoolean() ? "ok\n" : "stopped\n",
                "text/plain"));
    server.createContext(
        "/readyz",
        ex -> {
          String why = notReadyBecause.get();
          respond(ex, why == null ? 200 : 503, why == null ? "ok\n" : why + "\n", "text/plain");
        });
    server.createContext(
        "/metrics", ex -> respond(ex, 200, metrics.get(), PrometheusText.CONTENT_TYPE));
    server.start();
  }

  int port() {
    return server.getAddress().getPort();
  }

  private static void respond(HttpExchange ex, int code, String body, String type)
      throws IOException {
    byte[] bytes = body.getBytes(StandardCharsets.UTF_8);
    ex.getResponseHeaders().set("Content-Type", type);
    ex.sendResponseHeaders(code, bytes.length);
    try (OutputStream out = ex.getResponseBody()) {
      out.write(bytes);
    }
  }

  @Override
  public void close() {
    server.stop(0);
  }
}
