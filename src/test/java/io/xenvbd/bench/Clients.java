package io.xenvbd.bench;

import io.fabric8.kubernetes.client.Config;
import io.fabric8.kubernetes.client.ConfigBuilder;
import io.fabric8.kubernetes.client.KubernetesClient;
import io.fabric8.kubernetes.client.KubernetesClientBuilder;
import io.fabric8.kubernetes.client.http.BasicBuilder;
import io.fabric8.kubernetes.client.http.HttpRequest;
import io.fabric8.kubernetes.client.http.Interceptor;
import io.xenvbd.kube.EmbeddedApiServer;
import java.io.IOException;
import java.io.UncheckedIOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Map;
import java.util.TreeMap;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.atomic.LongAdder;

/**
 * fabric8 clients for the benchmarks that count every request they send to the API server (the
 * embedded API server has no request counter, so requests are counted where they leave the client).
 */
final class Clients {
  private Clients() {}

  /** Requests by "METHOD kind" (kind: watch or the last path segment type), thread-safe. */
  static final class RequestCounter implements Interceptor {
    private final Map<String, LongAdder> byKind = new ConcurrentHashMap<>();

    @Override
    public void before(BasicBuilder builder, HttpRequest request, RequestTags tags) {
      String query = request.uri().getRawQuery();
      boolean watch = query != null && query.contains("watch=true");
      String path = request.uri().getPath();
      String what =
          path.endsWith("/status")
              ? "status"
              : path.contains("/events")
                  ? "events"
                  : path.contains("dom0nodes")
                      ? "dom0nodes"
                      : path.contains("virtualdisks")
                          ? "virtualdisks"
                          : path.contains("leases") ? "leases" : "other";
      String key = (watch ? "WATCH" : request.method()) + " " + what;
      byKind.computeIfAbsent(key, k -> new LongAdder()).increment();
    }

    long total() {
      return byKind.values().stream().mapToLong(LongAdder::sum).sum();
    }

    Map<String, Long> snapshot() {
      Map<String, Long> out = new TreeMap<>();
      byKind.forEach((k, v) -> out.put(k, v.sum()));
      return out;
    }

    /** Difference of two snapshots (after − before), zero entries dropped. */
    static Map<String, Long> delta(Map<String, Long> before, Map<String, Long> after) {
      Map<String, Long> out = new TreeMap<>();
      after.forEach(
          (k, v) -> {
            long d = v - before.getOrDefault(k, 0L);
            if (d != 0) out.put(k, d);
          });
      return out;
    }
  }

  /**
   * A client for {@code api} with its token, namespace default, that counts its requests in {@code
   * counter} (may be null).
   */
  static KubernetesClient client(EmbeddedApiServer api, RequestCounter counter) {
    return client(api.clientConfig(), counter);
  }

  /**
   * The same, with the server and token a kubeconfig names (the one local mode writes, as its user
   * would).
   */
  static KubernetesClient client(Path kubeconfig, RequestCounter counter) {
    try {
      return client(
          new ConfigBuilder(Config.fromKubeconfig(Files.readString(kubeconfig))), counter);
    } catch (IOException e) {
      throw new UncheckedIOException("cannot read the kubeconfig " + kubeconfig, e);
    }
  }

  private static KubernetesClient client(ConfigBuilder config, RequestCounter counter) {
    KubernetesClientBuilder b =
        new KubernetesClientBuilder()
            .withConfig(config.withNamespace("default").withRequestRetryBackoffLimit(0).build());
    if (counter != null)
      b.withHttpClientBuilderConsumer(h -> h.addOrReplaceInterceptor("bench-count", counter));
    return b.build();
  }
}
