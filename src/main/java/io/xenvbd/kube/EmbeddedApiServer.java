package io.xenvbd.kube;

import com.fasterxml.jackson.databind.JsonNode;
import io.fabric8.kubernetes.client.Config;
import io.fabric8.kubernetes.client.ConfigBuilder;
import io.fabric8.kubernetes.client.KubernetesClient;
import io.fabric8.kubernetes.client.KubernetesClientBuilder;
import io.fabric8.kubernetes.client.utils.Serialization;
import io.vertx.core.Vertx;
import io.vertx.core.VertxOptions;
import io.vertx.core.http.HttpServer;
import io.vertx.core.http.HttpServerOptions;
import java.io.IOException;
import java.io.UncheckedIOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.TimeUnit;

/**
 * A Kubernetes API server in this process: the fabric8 mock server's CRUD store behind a Vert.x
 * HTTP front that adds what kubectl and java-operator-sdk need (discovery, OpenAPI stub, tables,
 * merge/JSON/apply patches, streaming watches, schema and CEL validation, real conflicts).
 * Plain HTTP on 127.0.0.1, no authentication: it is for local mode and tests.
 */
public final class EmbeddedApiServer implements AutoCloseable {
  private final Vertx vertx;
  private final HttpServer server;
  private final WatchHub hub;
  private final String url;

  private EmbeddedApiServer(Vertx vertx, HttpServer server, WatchHub hub) {
    this.vertx = vertx;
    this.server = server;
    this.hub = hub;
    this.url = "http://127.0.0.1:" + server.actualPort();
  }

  /**
   * Starts a server on 127.0.0.1.
   *
   * @param port the port, 0 for any free one
   * @param crdFiles CRD YAML files to install; null or empty: this project's CRDs, as
   *     {@link io.xenvbd.api.Crds} gives them (generated at process-classes, columns in model order)
   */
  public static EmbeddedApiServer start(int port, List<Path> crdFiles) {
    List<String> crds = new ArrayList<>();
    try {
      if (crdFiles == null || crdFiles.isEmpty()) {
        for (var crd : io.xenvbd.api.Crds.all()) {
          crds.add(Serialization.asJson(crd));
        }
      } else {
        for (Path p : crdFiles) {
          crds.add(Files.readString(p));
        }
      }
    } catch (IOException e) {
      throw new UncheckedIOException("cannot read the CRD files: " + e.getMessage(), e);
    }
    WatchHub hub = new WatchHub();
    CrudStore store = new CrudStore(hub);
    CrdRegistry crdRegistry = new CrdRegistry(store);
    Admission admission = new Admission(crdRegistry);
    store.call("POST", "/api/v1/namespaces", "application/json",
        "{\"apiVersion\":\"v1\",\"kind\":\"Namespace\",\"metadata\":{\"name\":\"default\"},"
            + "\"status\":{\"phase\":\"Active\"}}");
    for (String yaml : crds) {
      JsonNode crd = Json.parseYaml(yaml);
      store.call("POST", CrdRegistry.PATH, "application/json", Json.write(crd));
    }
    Vertx vertx = Vertx.vertx(new VertxOptions().setEventLoopPoolSize(2).setWorkerPoolSize(4));
    vertx.executeBlocking(() -> {
      admission.warmUp();
      return null;
    }, false);
    try {
      HttpServer server = vertx.createHttpServer(new HttpServerOptions().setHost("127.0.0.1").setPort(port)
          .setMaxWebSocketFrameSize(16 * 1024 * 1024).setMaxWebSocketMessageSize(64 * 1024 * 1024));
      HttpServer[] self = {server};
      Discovery discovery = new Discovery(crdRegistry, () -> "127.0.0.1:" + self[0].actualPort());
      server.requestHandler(new ApiHandler(vertx, discovery, new WatchStream(vertx, hub, store),
          new Reads(store, admission), new Writes(store, admission)));
      server.listen().toCompletionStage().toCompletableFuture().get(30, TimeUnit.SECONDS);
      return new EmbeddedApiServer(vertx, server, hub);
    } catch (Exception e) {
      vertx.close();
      throw new IllegalStateException("cannot start the embedded API server on 127.0.0.1:" + port
          + " (is the port in use?): " + e.getMessage(), e);
    }
  }

  /** Starts a server with this project's CRDs (VirtualDisk, Dom0Node) from {@link io.xenvbd.api.Crds}. */
  public static EmbeddedApiServer startWithProjectCrds(int port) {
    return start(port, List.of());
  }

  public String url() {
    return url;
  }

  public int port() {
    return server.actualPort();
  }

  /** A new fabric8 client for this server, namespace {@code default}; the caller closes it. */
  public KubernetesClient client() {
    Config config = new ConfigBuilder(Config.empty()).withMasterUrl(url).withNamespace("default")
        .withRequestRetryBackoffLimit(0).build();
    return new KubernetesClientBuilder().withConfig(config).build();
  }

  /** Writes a kubeconfig so that {@code kubectl --kubeconfig file} talks to this server. */
  public void writeKubeconfig(Path file) {
    String yaml = """
        apiVersion: v1
        kind: Config
        clusters:
        - name: xenvbd-local
          cluster:
            server: %s
        users:
        - name: xenvbd-local
          user: {}
        contexts:
        - name: xenvbd-local
          context:
            cluster: xenvbd-local
            user: xenvbd-local
            namespace: default
        current-context: xenvbd-local
        """.formatted(url);
    try {
      if (file.getParent() != null) {
        Files.createDirectories(file.getParent());
      }
      Files.writeString(file, yaml);
    } catch (IOException e) {
      throw new UncheckedIOException("cannot write the kubeconfig " + file + ": " + e.getMessage(), e);
    }
  }

  /** Open watches, for tests and diagnostics. */
  int openWatches() {
    return hub.watcherCount();
  }

  @Override
  public void close() {
    try {
      server.close().toCompletionStage().toCompletableFuture().get(10, TimeUnit.SECONDS);
    } catch (Exception e) {
      // closing anyway: open watches are cut when Vert.x stops
    }
    try {
      vertx.close().toCompletionStage().toCompletableFuture().get(10, TimeUnit.SECONDS);
    } catch (Exception e) {
      Thread.currentThread().interrupt();
    }
  }
}
