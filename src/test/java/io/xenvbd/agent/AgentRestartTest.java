package io.xenvbd.agent;

import static org.assertj.core.api.Assertions.assertThat;
import static org.awaitility.Awaitility.await;

import io.fabric8.kubernetes.client.KubernetesClient;
import io.fabric8.kubernetes.client.server.mock.EnableKubernetesMockClient;
import io.xenvbd.client.HttpAgentClient;
import io.xenvbd.protocol.DiskState;
import io.xenvbd.testing.Exec;
import io.xenvbd.testing.Host;
import io.xenvbd.testing.RequiresRoot;
import java.net.ServerSocket;
import java.net.URI;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.stream.Stream;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * An agent killed (SIGKILL, no clean-up of its own) in the middle of a build, then started again.
 */
@RequiresRoot
@EnableKubernetesMockClient(crud = true)
class AgentRestartTest {
  static KubernetesClient kube;
  @TempDir Path dir;

  @Test
  void aKilledBuildLeavesLeftoversThatTheNextStartCleansAndANewPutBuildsACorrectImage()
      throws Exception {
    Path root = Files.createDirectories(dir.resolve("images"));
    Path sources = Files.createDirectories(dir.resolve("sources"));
    StringBuilder hostPaths = new StringBuilder();
    for (int i = 0; i < 16; i++) {
      Path src = sources.resolve("tree-" + i);
      Host.writeTree(src, 16, 1 << 20);
      hostPaths
          .append(i == 0 ? "" : ",")
          .append("{\"path\":\"")
          .append(src)
          .append("\",\"target\":\"/data/")
          .append(i)
          .append("\"}");
    }
    String body =
        AgentHarness.putBody(
            "uid-r", "{\"size\":\"768Mi\",\"populate\":{\"hostPaths\":[" + hostPaths + "]}}");
    Path token = Files.writeString(dir.resolve("token"), "restart-token");
    Path kubeconfig =
        Files.writeString(
            dir.resolve("kubeconfig"), kubeconfig(kube.getConfiguration().getMasterUrl()));
    int port;
    try (ServerSocket s = new ServerSocket(0)) {
      port = s.getLocalPort();
    }
    List<String> command =
        new ArrayList<>(
            List.of(
                Path.of(System.getProperty("java.home"), "bin", "java").toString(),
                "-cp",
                System.getProperty("java.class.path"),
                AgentCommand.class.getName(),
                "--node-name",
                "node-r",
                "--images-root",
                root.toString(),
                "--allow-source",
                sources.toString(),
                "--listen",
                "127.0.0.1:" + port,
                "--insecure-plain-http",
                "--token-file",
                token.toString(),
                "--kubeconfig",
                kubeconfig.toString()));
    Process child =
        new ProcessBuilder(command)
            .redirectErrorStream(true)
            .redirectOutput(dir.resolve("agent.log").toFile())
            .start();
    try {
      HttpAgentClient first =
          new HttpAgentClient(
              URI.create("http://127.0.0.1:" + port), "restart-token", null, Duration.ofSeconds(5));
      HttpClient plain = HttpClient.newHttpClient();
      URI base = URI.create("http://127.0.0.1:" + port);
      await()
          .atMost(Duration.ofSeconds(60))
          .ignoreExceptions()
          .until(
              () ->
                  plain
                          .send(
                              HttpRequest.newBuilder(base.resolve("/readyz")).build(),
                              HttpResponse.BodyHandlers.ofString())
                          .statusCode()
                      == 200);
      HttpResponse<String> put =
          plain.send(
              HttpRequest.newBuilder(base.resolve("/v1/disks/default/r"))
                  .header("Authorization", "Bearer restart-token")
                  .PUT(HttpRequest.BodyPublishers.ofString(body))
                  .build(),
              HttpResponse.BodyHandlers.ofString());
      assertThat(put.statusCode()).as(put.body()).isEqualTo(202);
      await()
          .atMost(Duration.ofMinutes(2))
          .pollInterval(Duration.ofMillis(20))
          .until(
              () -> {
                DiskState s = first.getDisk("default", "r").orElseThrow();
                if (s.phase() != DiskState.Phase.Building)
                  throw new AssertionError("the build ended before it could be killed: " + s);
                return "Populate".equals(s.stage()) && s.bytesDone() != null && s.bytesDone() > 0;
              });
      child.destroyForcibly().waitFor();
      assertThat(leftovers(root)).as("temporary files of the killed build").isNotEmpty();
      assertThat(root.resolve("default/r.img")).doesNotExist();

      try (AgentHarness h = AgentHarness.start(dir, null)) {
        assertThat(leftovers(root)).as("cleaned at start").isEmpty();
        assertThat(h.client.getDisk("default", "r")).isEmpty();
        assertThat(h.call("PUT", "/v1/disks/default/r", body).statusCode()).isEqualTo(202);
        DiskState ready = h.awaitReady("default", "r", Duration.ofMinutes(3));
        assertThat(Exec.run("e2fsck", "-fn", ready.path()).exit()).isZero();
        for (int i : new int[] {0, 15}) {
          String listing = Exec.ok("debugfs", "-R", "ls -p /data/" + i, ready.path());
          assertThat(listing.lines().filter(l -> l.contains("file-")).count()).isEqualTo(16);
        }
        assertThat(h.filesUnderRoot()).containsExactly("default/r.img", "default/r.img.json");
      }
    } finally {
      child.destroyForcibly().waitFor();
      Host.releaseAll(dir);
    }
  }

  private static List<Path> leftovers(Path root) throws Exception {
    try (Stream<Path> walk = Files.walk(root)) {
      return walk.filter(
              p -> {
                String n = p.getFileName().toString();
                return n.startsWith(".") && n.contains(".tmp");
              })
          .toList();
    }
  }

  private static String kubeconfig(String server) {
    return """
        apiVersion: v1
        kind: Config
        clusters:
        - name: mock
          cluster:
            server: %s
            insecure-skip-tls-verify: true
        users:
        - name: mock
          user:
            token: mock
        contexts:
        - name: mock
          context:
            cluster: mock
            user: mock
        current-context: mock
        """
        .formatted(server);
  }
}
