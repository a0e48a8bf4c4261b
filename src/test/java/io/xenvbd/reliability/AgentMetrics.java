package io.xenvbd.reliability;

import java.net.URI;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.time.Duration;
import javax.net.ssl.SSLContext;

/** Reads the agent's Prometheus counters as a monitoring system would. */
final class AgentMetrics {
  private AgentMetrics() {}

  static String scrape(SSLContext ssl, int port) {
    try {
      HttpClient http =
          HttpClient.newBuilder().sslContext(ssl).connectTimeout(Duration.ofSeconds(5)).build();
      return http.send(
              HttpRequest.newBuilder(URI.create("https://127.0.0.1:" + port + "/metrics"))
                  .timeout(Duration.ofSeconds(10))
                  .build(),
              HttpResponse.BodyHandlers.ofString())
          .body();
    } catch (Exception e) {
      throw new AssertionError("cannot scrape the agent's /metrics: " + e, e);
    }
  }

  /**
   * Sum of {@code xenvbd_agent_operations_total} samples of one kind (build, resize, delete), any
   * result.
   */
  static long operations(String metricsText, String kind) {
    return metricsText
        .lines()
        .filter(l -> l.startsWith("xenvbd_agent_operations_total{"))
        .filter(l -> l.contains("kind=\"" + kind + "\""))
        .mapToLong(l -> (long) Double.parseDouble(l.substring(l.lastIndexOf(' ') + 1)))
        .sum();
  }

  static long operations(String metricsText, String kind, String result) {
    return metricsText
        .lines()
        .filter(l -> l.startsWith("xenvbd_agent_operations_total{"))
        .filter(l -> l.contains("kind=\"" + kind + "\"") && l.contains("result=\"" + result + "\""))
        .mapToLong(l -> (long) Double.parseDouble(l.substring(l.lastIndexOf(' ') + 1)))
        .sum();
  }
}
