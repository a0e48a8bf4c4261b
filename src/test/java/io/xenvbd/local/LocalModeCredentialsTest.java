package io.xenvbd.local;

import static org.assertj.core.api.Assertions.assertThat;
import static org.awaitility.Awaitility.await;

import io.xenvbd.testing.Kubectl;
import io.xenvbd.testing.Manifests;
import io.xenvbd.testing.RequiresRoot;
import io.xenvbd.tls.Tls;
import java.net.URI;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.attribute.PosixFilePermissions;
import java.time.Duration;
import java.util.Base64;
import java.util.List;
import java.util.regex.Matcher;
import java.util.regex.Pattern;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * Local mode in this JVM: its API answers only whoever holds the kubeconfig it wrote, and its own
 * operator and agent are among them.
 */
@RequiresRoot
class LocalModeCredentialsTest {
  @TempDir Path tmp;

  static String mode(Path p) throws Exception {
    return PosixFilePermissions.toString(Files.getPosixFilePermissions(p));
  }

  static String field(String kubeconfig, String name) {
    Matcher m = Pattern.compile("(?m)^\\s*" + name + ": \"?([^\"\\n]+)\"?$").matcher(kubeconfig);
    assertThat(m.find()).as(name + " in the kubeconfig").isTrue();
    return m.group(1);
  }

  @Test
  void onlyTheKubeconfigsHolderGetsInAndARestartKeepsItsCredentials() throws Exception {
    Path state =
        Files.createDirectory(
            tmp.resolve("state"),
            PosixFilePermissions.asFileAttribute(PosixFilePermissions.fromString("rwxr-xr-x")));
    LocalConfig config = new LocalConfig(state, List.of(), 0, "cred-node");
    String token;
    String ca;
    try (LocalMode mode = LocalMode.start(config)) {
      assertThat(mode(state)).isEqualTo("rwx------");
      assertThat(mode(config.kubeconfig())).isEqualTo("rw-------");
      assertThat(mode(state.resolve("api-token"))).isEqualTo("rw-------");
      String kubeconfig = Files.readString(config.kubeconfig());
      token = field(kubeconfig, "token");
      ca = field(kubeconfig, "certificate-authority-data");
      assertThat(token).isEqualTo(Files.readString(state.resolve("api-token")).strip());

      Kubectl kubectl = new Kubectl(config.kubeconfig());
      // The agent (heartbeat) and the operator (status) write through the API: they hold the token
      // too.
      await()
          .atMost(Duration.ofSeconds(60))
          .pollInterval(Duration.ofMillis(250))
          .untilAsserted(
              () ->
                  assertThat(
                          kubectl
                              .run(
                                  "get",
                                  "dom0nodes",
                                  "cred-node",
                                  "-o",
                                  "jsonpath={.status.conditions[0].status}")
                              .out())
                      .isEqualTo("True"));
      kubectl
          .runWithInput(Manifests.disk("raw", "16Mi", "filesystem: none"), "apply", "-f", "-")
          .ok();
      kubectl.run("wait", "--for=condition=Ready", "--timeout=90s", "vd/raw").ok();

      Path caFile = Files.write(tmp.resolve("ca.crt"), Base64.getDecoder().decode(ca));
      HttpClient http = HttpClient.newBuilder().sslContext(Tls.clientContext(caFile)).build();
      for (String auth : new String[] {null, "Bearer " + token.substring(1)}) {
        HttpRequest.Builder req =
            HttpRequest.newBuilder(
                URI.create(
                    mode.apiUrl() + "/apis/xenvbd.io/v1alpha1/namespaces/default/virtualdisks"));
        if (auth != null) req.header("Authorization", auth);
        HttpResponse<String> r = http.send(req.build(), HttpResponse.BodyHandlers.ofString());
        assertThat(r.statusCode()).isEqualTo(401);
        assertThat(r.body()).contains("\"reason\":\"Unauthorized\"").doesNotContain("raw");
      }
      kubectl.run("delete", "vd", "raw", "--wait=true", "--timeout=60s").ok();
    }

    try (LocalMode again = LocalMode.start(config)) {
      String kubeconfig = Files.readString(config.kubeconfig());
      assertThat(field(kubeconfig, "token")).isEqualTo(token);
      assertThat(field(kubeconfig, "certificate-authority-data")).isEqualTo(ca);
      assertThat(new Kubectl(config.kubeconfig()).run("get", "vd").ok().err())
          .contains("No resources found");
    }
  }
}
