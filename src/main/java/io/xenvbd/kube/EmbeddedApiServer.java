package io.xenvbd.kube;

import com.fasterxml.jackson.databind.JsonNode;
import io.fabric8.kubernetes.client.Config;
import io.fabric8.kubernetes.client.ConfigBuilder;
import io.fabric8.kubernetes.client.KubernetesClient;
import io.fabric8.kubernetes.client.KubernetesClientBuilder;
import io.fabric8.kubernetes.client.utils.Serialization;
import io.vertx.core.Vertx;
import io.vertx.core.VertxOptions;
import io.vertx.core.buffer.Buffer;
import io.vertx.core.http.HttpServer;
import io.vertx.core.http.HttpServerOptions;
import io.vertx.core.net.PemKeyCertOptions;
import io.xenvbd.api.Crds;
import java.io.IOException;
import java.io.UncheckedIOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Base64;
import java.util.List;
import java.util.Objects;
import java.util.concurrent.TimeUnit;

/**
 * A Kubernetes API server in this process: the fabric8 mock server's CRUD store behind a Vert.x
 * HTTP front that adds what kubectl and java-operator-sdk need (discovery, OpenAPI stub, tables,
 * merge/JSON/apply patches, streaming watches, schema and CEL validation, real conflicts). HTTPS on
 * 127.0.0.1 for local mode and tests ({@link ServerTls}: client-go sends credentials only over
 * TLS); every request but the health checks must carry the server's bearer token ({@link
 * Authentication}), which {@link #client()}, {@link #clientConfig()} and {@link #writeKubeconfig}
 * pass on with the CA to trust. There is no authorization: whoever has the token may do anything.
 */
public final class EmbeddedApiServer implements AutoCloseable {
  private final Vertx vertx;
  private final HttpServer server;
  private final WatchHub hub;
  private final AuditLog audit;
  private final String url;
  private final BearerToken token;
  private final ServerTls tls;

  private EmbeddedApiServer(
      Vertx vertx,
      HttpServer server,
      WatchHub hub,
      AuditLog audit,
      BearerToken token,
      ServerTls tls) {
    this.vertx = vertx;
    this.server = server;
    this.hub = hub;
    this.audit = audit;
    this.token = token;
    this.tls = tls;
    this.url = "https://127.0.0.1:" + server.actualPort();
  }

  /**
   * Starts a server on 127.0.0.1 with a fresh token and certificate ({@link #start(int, List,
   * BearerToken, ServerTls)}).
   */
  public static EmbeddedApiServer start(int port, List<Path> crdFiles) {
    return start(port, crdFiles, BearerToken.generate(), ServerTls.generate());
  }

  /**
   * Starts a server on 127.0.0.1.
   *
   * @param port the port, 0 for any free one
   * @param crdFiles CRD YAML files to install; null or empty: this project's CRDs, as {@link Crds}
   *     gives them (generated at process-classes, columns in model order)
   * @param token the bearer token every request but the health checks must carry
   * @param tls the certificate the server presents and the CA its clients trust
   */
  public static EmbeddedApiServer start(
      int port, List<Path> crdFiles, BearerToken token, ServerTls tls) {
    Objects.requireNonNull(token, "token");
    Objects.requireNonNull(tls, "tls");
    List<String> crds = new ArrayList<>();
    try {
      if (crdFiles == null || crdFiles.isEmpty()) {
        for (var crd : Crds.all()) {
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
    store.call(
        "POST",
        "/api/v1/namespaces",
        "application/json",
        "{\"apiVersion\":\"v1\",\"kind\":\"Namespace\",\"metadata\":{\"name\":\"default\"},"
            + "\"status\":{\"phase\":\"Active\"}}");
    for (String yaml : crds) {
      JsonNode crd = Json.parseYaml(yaml);
      store.call("POST", CrdRegistry.PATH, "application/json", Json.write(crd));
    }
    Vertx vertx = Vertx.vertx(new VertxOptions().setEventLoopPoolSize(2).setWorkerPoolSize(4));
    vertx.executeBlocking(
        () -> {
          admission.warmUp();
          return null;
        },
        false);
    try {
      HttpServer server =
          vertx.createHttpServer(
              new HttpServerOptions()
                  .setHost("127.0.0.1")
                  .setPort(port)
                  .setSsl(true)
                  .setKeyCertOptions(
                      new PemKeyCertOptions()
                          .setCertValue(Buffer.buffer(tls.certPem()))
                          .setKeyValue(Buffer.buffer(tls.keyPem())))
                  .setMaxWebSocketFrameSize(16 * 1024 * 1024)
                  .setMaxWebSocketMessageSize(64 * 1024 * 1024));
      HttpServer[] self = {server};
      Discovery discovery = new Discovery(crdRegistry, () -> "127.0.0.1:" + self[0].actualPort());
      AuditLog audit = new AuditLog();
      server.requestHandler(
          new Authentication(
              token,
              new ApiHandler(
                  vertx,
                  discovery,
                  new OpenApi(crdRegistry),
                  new WatchStream(vertx, hub, store),
                  new Reads(store, admission),
                  new Writes(store, admission),
                  audit)));
      server.listen().toCompletionStage().toCompletableFuture().get(30, TimeUnit.SECONDS);
      return new EmbeddedApiServer(vertx, server, hub, audit, token, tls);
    } catch (Exception e) {
      vertx.close();
      throw new IllegalStateException(
          "cannot start the embedded API server on 127.0.0.1:"
              + port
              + " (is the port in use?): "
              + e.getMessage(),
          e);
    }
  }

  /** Starts a server with this project's CRDs (VirtualDisk, Dom0Node) from {@link Crds}. */
  public static EmbeddedApiServer startWithProjectCrds(int port) {
    return start(port, List.of());
  }

  /**
   * Starts a server with this project's CRDs, token and certificate given (local mode keeps both
   * across restarts).
   */
  public static EmbeddedApiServer startWithProjectCrds(int port, BearerToken token, ServerTls tls) {
    return start(port, List.of(), token, tls);
  }

  public String url() {
    return url;
  }

  public int port() {
    return server.actualPort();
  }

  /** The bearer token this server accepts: for clients the caller builds itself. Never log it. */
  public String token() {
    return token.value();
  }

  /** The CA certificate (PEM) that signed this server's certificate: what a client must trust. */
  public String caCertificate() {
    return tls.caPem();
  }

  /**
   * A fabric8 configuration for this server: its URL, its token, its CA and namespace {@code
   * default}, nothing read from the environment or ~/.kube; for callers that set more (user agent,
   * timeouts).
   */
  public ConfigBuilder clientConfig() {
    return new ConfigBuilder(Config.empty())
        .withMasterUrl(url)
        .withOauthToken(token.value())
        .withCaCertData(base64(tls.caPem()))
        .withNamespace("default");
  }

  /**
   * A new fabric8 client for this server with its token, namespace {@code default}; the caller
   * closes it.
   */
  public KubernetesClient client() {
    return new KubernetesClientBuilder()
        .withConfig(clientConfig().withRequestRetryBackoffLimit(0).build())
        .build();
  }

  static String base64(String pem) {
    return Base64.getEncoder().encodeToString(pem.getBytes(StandardCharsets.US_ASCII));
  }

  /**
   * Writes a kubeconfig with the token and the CA so that {@code kubectl --kubeconfig file} talks
   * to this server: owner-only, never readable by others at any moment, a link at {@code file}
   * replaced and not followed ({@link Kubeconfig#write}).
   */
  public void writeKubeconfig(Path file) {
    Kubeconfig.write(file, url, tls.caPem(), token);
  }

  /**
   * The resource requests served so far (the last {@value AuditLog#CAPACITY}), oldest first, as an
   * authorizer would see them: what a role must grant to whoever sent them. A snapshot.
   */
  public List<AuditEvent> audit() {
    return audit.snapshot();
  }

  /** Forgets the recorded requests, e.g. those a test made while setting up. */
  public void clearAudit() {
    audit.clear();
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
