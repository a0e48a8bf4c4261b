package io.xenvbd.reliability;

import static org.assertj.core.api.Assertions.assertThat;
import static org.awaitility.Awaitility.await;

import io.xenvbd.testing.Host;
import io.xenvbd.testing.Kubectl;
import io.xenvbd.testing.Manifests;
import io.xenvbd.testing.RequiresRoot;
import io.xenvbd.tls.Tls;
import java.io.IOException;
import java.net.URI;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.TimeUnit;
import javax.net.ssl.SSLContext;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * Promise 4 against the packaged product in local mode: agent calls without the token, with a wrong
 * one, or over plain HTTP are refused and change nothing; and after a day's work (a good disk, a
 * refused one, the refused calls) neither the token nor the TLS private key appears in the log, the
 * terminal output, events, statuses or error messages.
 */
@RequiresRoot
class SecurityIT {
  @TempDir Path tmp;

  @Test
  void agentRefusesUnauthenticatedAndPlainCallsAndNoSecretLeaks() throws Exception {
    Path dir = tmp.resolve("state");
    Path source = SourceTree.make(tmp.resolve("src"), 1, 1024);
    Path out = tmp.resolve("local.out");
    Process local =
        new ProcessBuilder(
                "java",
                "-jar",
                AgentProcess.jar(),
                "local",
                "--dir",
                dir.toString(),
                "--allow-source",
                source.toString())
            .redirectErrorStream(true)
            .redirectOutput(out.toFile())
            .start();
    try {
      Kubectl kubectl = new Kubectl(dir.resolve("kubeconfig"));
      await()
          .atMost(Duration.ofSeconds(90))
          .pollInterval(Duration.ofMillis(500))
          .until(
              () -> {
                assertThat(local.isAlive())
                    .as("local mode exited: %s", Files.readString(out))
                    .isTrue();
                return Files.exists(dir.resolve("kubeconfig"))
                    && kubectl
                        .run("get", "dom0nodes", "-o", "jsonpath={.items[0].status.agent.endpoint}")
                        .out()
                        .startsWith("https://");
              });
      String token = Files.readString(dir.resolve("agent-token")).strip();
      String endpoint =
          kubectl.run("get", "dom0nodes", "-o", "jsonpath={.items[0].status.agent.endpoint}").out();
      SSLContext ssl = Tls.clientContext(dir.resolve("tls/ca.crt"));
      HttpClient https =
          HttpClient.newBuilder().sslContext(ssl).connectTimeout(Duration.ofSeconds(5)).build();
      String body = "{\"uid\":\"u-1\",\"spec\":{\"size\":\"64Mi\",\"filesystem\":\"ext4\"}}";
      List<String> answers = new ArrayList<>();

      HttpResponse<String> none =
          send(https, "PUT", endpoint + "/v1/disks/default/intruder", body, null);
      HttpResponse<String> wrong =
          send(https, "PUT", endpoint + "/v1/disks/default/intruder", body, token + "x");
      HttpResponse<String> other =
          send(https, "PUT", endpoint + "/v1/disks/default/intruder", body, "guessed-token");
      HttpResponse<String> node = send(https, "GET", endpoint + "/v1/node", null, null);
      for (HttpResponse<String> r : List.of(none, wrong, other, node)) {
        assertThat(r.statusCode()).as("refused: %s", r.body()).isEqualTo(401);
        assertThat(r.body()).contains("Unauthorized").doesNotContain(token);
        answers.add(r.body());
      }
      String plain = "http://" + URI.create(endpoint).getAuthority() + "/v1/disks/default/intruder";
      String plainResult;
      try {
        HttpResponse<String> r =
            send(HttpClient.newHttpClient(), "PUT", plain, body, "guessed-token");
        plainResult = "HTTP " + r.statusCode() + " " + r.body();
        assertThat(r.statusCode()).as("plain HTTP to the TLS port").isNotIn(200, 201, 202, 204);
      } catch (IOException e) {
        plainResult = "refused: " + e;
      }
      assertThat(
              send(https, "GET", endpoint + "/v1/disks/default/intruder", null, token).statusCode())
          .as("the refused PUTs created nothing")
          .isEqualTo(404);
      assertThat(dir.resolve("images/default/intruder.img")).doesNotExist();

      kubectl.apply(
          Manifests.disk(
              "sec-ok",
              "64Mi",
              "populate: {hostPaths: [{path: %s, target: /srv}]}".formatted(source)));
      kubectl.apply(Manifests.disk("sec-bad", "64Mi", "populate: {hostPaths: [{path: /etc}]}"));
      assertThat(kubectl.run("wait", "--for=condition=Ready", "vd/sec-ok", "--timeout=120s").exit())
          .isZero();
      await()
          .atMost(Duration.ofSeconds(60))
          .until(
              () ->
                  kubectl
                      .run(
                          "get",
                          "vd",
                          "sec-bad",
                          "-o",
                          "jsonpath={.status.conditions[?(@.type==\"Ready\")].message}")
                      .out()
                      .contains("SourceNotAllowed"));
      HttpResponse<String> delete =
          send(https, "DELETE", endpoint + "/v1/disks/default/sec-ok?uid=x", null, "guessed-token");
      assertThat(delete.statusCode()).isEqualTo(401);
      assertThat(dir.resolve("images/default/sec-ok.img")).exists();

      String everything =
          String.join("\n", answers)
              + plainResult
              + Files.readString(dir.resolve("xenvbd.log"))
              + Files.readString(out)
              + kubectl.run("get", "vd,dom0nodes,events", "-A", "-o", "yaml").out()
              + kubectl.run("describe", "vd", "sec-ok", "sec-bad").out();
      assertThat(everything).as("the bearer token").doesNotContain(token);
      assertThat(everything)
          .as("the API token")
          .doesNotContain(Files.readString(dir.resolve("api-token")).strip());
      for (String line : Files.readAllLines(dir.resolve("tls/tls.key"))) {
        if (!line.startsWith("-----") && line.length() >= 16)
          assertThat(everything).as("TLS key material").doesNotContain(line);
      }
      System.out.println(
          "[reliability] agent refused 5 unauthenticated calls (401) and plain HTTP ("
              + plainResult
              + "); token and key absent from "
              + everything.length()
              + " characters of logs, events, statuses");
    } finally {
      local.destroy();
      if (!local.waitFor(60, TimeUnit.SECONDS)) local.destroyForcibly();
      Host.releaseAll(dir);
    }
  }

  static HttpResponse<String> send(
      HttpClient http, String method, String url, String body, String token) throws Exception {
    HttpRequest.Builder b = HttpRequest.newBuilder(URI.create(url)).timeout(Duration.ofSeconds(10));
    if (token != null) b.header("Authorization", "Bearer " + token);
    if (body != null) b.header("Content-Type", "application/json");
    b.method(
        method,
        body == null
            ? HttpRequest.BodyPublishers.noBody()
            : HttpRequest.BodyPublishers.ofString(body));
    return http.send(b.build(), HttpResponse.BodyHandlers.ofString());
  }
}
