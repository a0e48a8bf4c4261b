package io.xenvbd.kube;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import com.fasterxml.jackson.databind.JsonNode;
import io.xenvbd.testing.Exec;
import io.xenvbd.testing.Kubectl;
import io.xenvbd.testing.Manifests;
import io.xenvbd.tls.Tls;
import java.net.URI;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.net.http.WebSocket;
import java.net.http.WebSocketHandshakeException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.attribute.PosixFilePermissions;
import java.time.Duration;
import java.util.ArrayList;
import java.util.Base64;
import java.util.List;
import java.util.concurrent.CompletionException;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** The embedded API answers only whoever holds its token; kubectl gets it from the kubeconfig. */
class EmbeddedApiServerAuthTest {
  static final String VDS = "/apis/xenvbd.io/v1alpha1/namespaces/default/virtualdisks";
  static final List<String> CLOSED =
      List.of(
          "/api",
          "/apis",
          "/version",
          "/openapi/v3",
          "/api/v1/namespaces",
          "/api/v1/namespaces/default/configmaps",
          VDS,
          VDS + "?watch=true",
          "/metrics",
          "/no/such/path",
          "/healthz/../api/v1/namespaces",
          "//healthz",
          "/healthz/etcd");

  @TempDir static Path dir;
  static EmbeddedApiServer server;
  static HttpClient http;

  @BeforeAll
  static void start() throws Exception {
    server = EmbeddedApiServer.startWithProjectCrds(0);
    Path ca = Files.writeString(dir.resolve("ca.crt"), server.caCertificate());
    http =
        HttpClient.newBuilder()
            .sslContext(Tls.clientContext(ca))
            .connectTimeout(Duration.ofSeconds(5))
            .build();
  }

  @AfterAll
  static void stop() {
    server.close();
  }

  static HttpResponse<String> get(String path, String authorization) throws Exception {
    HttpRequest.Builder b =
        HttpRequest.newBuilder(URI.create(server.url() + path)).timeout(Duration.ofSeconds(10));
    if (authorization != null) b.header("Authorization", authorization);
    return http.send(b.build(), HttpResponse.BodyHandlers.ofString());
  }

  static void assertUnauthorized(HttpResponse<String> r, String what) {
    assertThat(r.statusCode()).as(what).isEqualTo(401);
    assertThat(r.headers().firstValue("Content-Type")).as(what).contains("application/json");
    JsonNode status = Json.parse(r.body());
    assertThat(Json.write(status))
        .as(what)
        .isEqualTo(
            "{\"kind\":\"Status\",\"apiVersion\":\"v1\",\"metadata\":{},"
                + "\"status\":\"Failure\",\"message\":\"Unauthorized\",\"reason\":\"Unauthorized\",\"code\":401}");
  }

  @Test
  void everyPathButTheHealthChecksAnswers401WithoutTheRightToken() throws Exception {
    String token = server.token();
    List<String> wrong = new ArrayList<>();
    wrong.add(null);
    wrong.addAll(
        List.of(
            "",
            "Bearer",
            "Bearer ",
            "Bearer wrong",
            "Bearer " + token + "x",
            "Bearer " + token.substring(1),
            "Bearer  " + token,
            token,
            "Basic " + Base64.getEncoder().encodeToString(("admin:" + token).getBytes()),
            "Token " + token));
    for (String path : CLOSED) {
      for (String auth : wrong) {
        assertUnauthorized(get(path, auth), "GET " + path + " with Authorization: " + auth);
      }
    }
  }

  @Test
  void theRightTokenIsAcceptedWhateverTheCaseOfItsScheme() throws Exception {
    for (String scheme : List.of("Bearer ", "bearer ", "BEARER ")) {
      HttpResponse<String> r = get("/version", scheme + server.token());
      assertThat(r.statusCode()).as(scheme).isEqualTo(200);
      assertThat(r.body()).contains("gitVersion");
    }
    assertThat(get(VDS, "Bearer " + server.token()).statusCode()).isEqualTo(200);
  }

  @Test
  void healthChecksStayOpenAndSayNothingButOk() throws Exception {
    for (String path : List.of("/healthz", "/livez", "/readyz")) {
      HttpResponse<String> r = get(path, null);
      assertThat(r.statusCode()).as(path).isEqualTo(200);
      assertThat(r.body()).as(path).isEqualTo("ok");
    }
    HttpResponse<String> post =
        http.send(
            HttpRequest.newBuilder(URI.create(server.url() + "/healthz"))
                .POST(HttpRequest.BodyPublishers.ofString("{}"))
                .build(),
            HttpResponse.BodyHandlers.ofString());
    assertUnauthorized(post, "POST /healthz");
  }

  @Test
  void anUnauthenticatedWriteCreatesNothingAndIsNotAudited() throws Exception {
    String vd = Json.write(Json.parseYaml(Manifests.vm1disk("intruder", "1Gi", "ext4")));
    server.clearAudit();
    for (String method : List.of("POST", "PUT", "PATCH", "DELETE")) {
      String path = method.equals("POST") ? VDS : VDS + "/intruder";
      HttpResponse<String> r =
          http.send(
              HttpRequest.newBuilder(URI.create(server.url() + path))
                  .header(
                      "Content-Type",
                      method.equals("PATCH") ? "application/merge-patch+json" : "application/json")
                  .header("Authorization", "Bearer not-the-token")
                  .method(method, HttpRequest.BodyPublishers.ofString(vd))
                  .build(),
              HttpResponse.BodyHandlers.ofString());
      assertUnauthorized(r, method + " " + path);
    }
    assertThat(server.audit()).isEmpty();
    HttpResponse<String> list = get(VDS, "Bearer " + server.token());
    assertThat(Json.parse(list.body()).get("items")).isEmpty();
  }

  @Test
  void aWebSocketWatchWithoutTheTokenIsRefusedBeforeTheUpgrade() {
    URI ws = URI.create(server.url().replace("https:", "wss:") + VDS + "?watch=true");
    assertThatThrownBy(
            () ->
                http.newWebSocketBuilder()
                    .header("Authorization", "Bearer wrong")
                    .buildAsync(ws, new WebSocket.Listener() {})
                    .join())
        .isInstanceOf(CompletionException.class)
        .cause()
        .isInstanceOfSatisfying(
            WebSocketHandshakeException.class,
            e -> assertThat(e.getResponse().statusCode()).isEqualTo(401));
    WebSocket allowed =
        http.newWebSocketBuilder()
            .header("Authorization", "Bearer " + server.token())
            .buildAsync(ws, new WebSocket.Listener() {})
            .join();
    allowed.abort();
  }

  @Test
  void kubectlWithTheWrittenKubeconfigAppliesAndGetsAVirtualDisk() {
    Path kubeconfig = dir.resolve("kubeconfig");
    server.writeKubeconfig(kubeconfig);
    Kubectl kubectl = new Kubectl(kubeconfig);
    Exec.Result apply =
        kubectl.runWithInput(Manifests.vm1disk("allowed", "1Gi", "ext4"), "apply", "-f", "-");
    assertThat(apply.exit()).as(apply.all()).isZero();
    assertThat(apply.out()).contains("virtualdisk.xenvbd.io/allowed created");
    Exec.Result get = kubectl.run("get", "vd", "allowed", "-o", "jsonpath={.spec.size}");
    assertThat(get.exit()).as(get.all()).isZero();
    assertThat(get.out()).isEqualTo("1Gi");
  }

  @Test
  void kubectlWithoutTheTokenOrWithAnotherIsToldToLogIn() throws Exception {
    Path good = dir.resolve("good-kubeconfig");
    server.writeKubeconfig(good);
    String yaml = Files.readString(good);
    assertThat(yaml).contains("token: \"" + server.token() + "\"");
    Path none =
        Files.writeString(
            dir.resolve("no-token"),
            yaml.replaceAll("(?m)^\\s*token: .*\\n", "").replace("user:\n", "user: {}\n"));
    Path other =
        Files.writeString(
            dir.resolve("other-token"),
            yaml.replace(server.token(), BearerToken.generate().value()));
    Path manifest =
        Files.writeString(dir.resolve("denied.yaml"), Manifests.vm1disk("denied", "1Gi", "ext4"));
    // With no credentials at all kubectl asks for a user name and password (and cannot read one
    // here).
    Exec.Result prompted = new Kubectl(none).run("get", "vd");
    assertThat(prompted.exit()).as(prompted.all()).isNotZero();
    assertThat(prompted.all()).contains("Username").doesNotContain("No resources found");
    List<List<String>> attempts =
        List.of(
            List.of("--username=someone", "--password=guessed"),
            List.of("--token=" + BearerToken.generate().value()));
    for (Path kubeconfig : List.of(none, other)) {
      assertThat(Files.readString(kubeconfig)).doesNotContain(server.token());
      for (List<String> credentials : kubeconfig == none ? attempts : List.of(List.<String>of())) {
        for (List<String> command :
            List.of(List.of("get", "vd"), List.of("apply", "-f", manifest.toString()))) {
          List<String> args = new ArrayList<>(credentials);
          args.addAll(command);
          Exec.Result r = new Kubectl(kubeconfig).run(args.toArray(String[]::new));
          assertThat(r.exit()).as(r.all()).isNotZero();
          // client-go's words for a 401 (apply meets it first when it fetches the OpenAPI document)
          assertThat(r.err())
              .as(kubeconfig.getFileName() + " " + args)
              .containsAnyOf(
                  "You must be logged in to the server",
                  "the server has asked for the client to provide credentials");
        }
      }
    }
    assertThat(get(VDS + "/denied", "Bearer " + server.token()).statusCode()).isEqualTo(404);
  }

  @Test
  void theKubeconfigIsOwnerOnlyAndALinkAtItsPathIsReplacedNotFollowed() throws Exception {
    Path fresh = dir.resolve("made/for/it/kubeconfig");
    server.writeKubeconfig(fresh);
    assertThat(PosixFilePermissions.toString(Files.getPosixFilePermissions(fresh)))
        .isEqualTo("rw-------");
    assertThat(PosixFilePermissions.toString(Files.getPosixFilePermissions(fresh.getParent())))
        .isEqualTo("rwx------");

    Path victim = Files.writeString(dir.resolve("victim"), "not a kubeconfig\n");
    Path linked = Files.createSymbolicLink(dir.resolve("linked-kubeconfig"), victim);
    server.writeKubeconfig(linked);
    assertThat(Files.readString(victim)).isEqualTo("not a kubeconfig\n");
    assertThat(Files.isSymbolicLink(linked)).isFalse();
    assertThat(Files.readString(linked)).contains(server.url(), server.token());
    assertThat(PosixFilePermissions.toString(Files.getPosixFilePermissions(linked)))
        .isEqualTo("rw-------");
    try (var listing = Files.list(dir)) {
      assertThat(listing.map(p -> p.getFileName().toString())).noneMatch(n -> n.endsWith(".tmp"));
    }
  }

  @Test
  void theServersOwnClientCarriesTheToken() {
    try (var client = server.client()) {
      assertThat(client.getKubernetesVersion().getGitVersion()).isNotBlank();
      assertThat(client.namespaces().withName("default").get()).isNotNull();
    }
  }
}
