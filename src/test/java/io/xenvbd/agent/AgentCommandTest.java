package io.xenvbd.agent;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import io.xenvbd.disk.UrlPolicy;
import java.io.PrintWriter;
import java.io.StringWriter;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import picocli.CommandLine;

class AgentCommandTest {
  @TempDir Path dir;

  private AgentConfig parse(String... args) {
    AgentCommand command = new AgentCommand();
    new CommandLine(command).parseArgs(args);
    return command.toConfig();
  }

  @Test
  void flagsBecomeOneImmutableConfig() throws Exception {
    Path token = Files.writeString(dir.resolve("token"), "s3cret\n");
    AgentConfig c =
        parse(
            "--node-name",
            "dom0-a",
            "--images-root",
            dir.resolve("img").toString(),
            "--allow-source",
            "/srv/a",
            "--allow-source",
            "/srv/b:/srv/c",
            "--listen",
            "127.0.0.1:9443",
            "--tls-cert",
            "/x/tls.crt",
            "--tls-key",
            "/x/tls.key",
            "--token-file",
            token.toString(),
            "--workers",
            "3",
            "--heartbeat",
            "5",
            "--loop-wait",
            "7",
            "--loop-reserve",
            "4",
            "--metrics-require-token");
    assertThat(c.nodeName()).isEqualTo("dom0-a");
    assertThat(c.allowedSources())
        .containsExactly(Path.of("/srv/a"), Path.of("/srv/b"), Path.of("/srv/c"));
    assertThat(c.listen().getPort()).isEqualTo(9443);
    assertThat(c.listen().getHostString()).isEqualTo("127.0.0.1");
    assertThat(c.token()).isEqualTo("s3cret");
    assertThat(c.workers()).isEqualTo(3);
    assertThat(c.heartbeat()).isEqualTo(Duration.ofSeconds(5));
    assertThat(c.loopWait()).isEqualTo(Duration.ofSeconds(7));
    assertThat(c.loopReserve()).isEqualTo(4);
    assertThat(c.metricsRequireToken()).isTrue();
    assertThat(c.insecurePlainHttp()).isFalse();
    assertThat(c.toString()).doesNotContain("s3cret");
  }

  @Test
  void theTokenFileIsWatchedWithTheDocumentedOverlapAndALinkOutOfItsDirectoryIsRefused()
      throws Exception {
    Path token = Files.writeString(dir.resolve("token"), "t");
    AgentConfig c =
        parse("--node-name", "n", "--token-file", token.toString(), "--insecure-plain-http");
    assertThat(c.tokenFile()).isEqualTo(token);
    assertThat(c.rotationOverlap()).isEqualTo(Duration.ofSeconds(600));
    assertThat(
            parse(
                    "--node-name",
                    "n",
                    "--token-file",
                    token.toString(),
                    "--insecure-plain-http",
                    "--rotation-overlap",
                    "30")
                .rotationOverlap())
        .isEqualTo(Duration.ofSeconds(30));
    assertThatThrownBy(
            () ->
                parse(
                    "--node-name",
                    "n",
                    "--token-file",
                    token.toString(),
                    "--insecure-plain-http",
                    "--rotation-overlap",
                    "-1"))
        .hasMessageContaining("--rotation-overlap must not be negative");
    Path conf = Files.createDirectories(dir.resolve("conf"));
    Files.createSymbolicLink(conf.resolve("token"), token);
    assertThatThrownBy(
            () ->
                parse(
                    "--node-name",
                    "n",
                    "--token-file",
                    conf.resolve("token").toString(),
                    "--insecure-plain-http"))
        .isInstanceOf(CommandLine.ParameterException.class)
        .hasMessageContaining("cannot read --token-file")
        .hasMessageContaining("outside its directory");
  }

  @Test
  void archiveUrlsAreAllowedOnlyByPrefixAndPrivateHostsOnlyByName() throws Exception {
    Path token = Files.writeString(dir.resolve("token"), "t");
    AgentConfig c =
        parse(
            "--node-name",
            "n",
            "--token-file",
            token.toString(),
            "--insecure-plain-http",
            "--allow-url",
            "https://mirror.example/images/",
            "--allow-url",
            "https://b.example/x/,HTTP://C.example:8080/r.tar",
            "--allow-private-host",
            "mirror.internal,10.0.0.5",
            "--allow-private-host",
            "[::1]");
    assertThat(c.urls().allowedPrefixes())
        .containsExactly(
            "https://mirror.example/images/",
            "https://b.example/x/",
            "http://c.example:8080/r.tar");
    assertThat(c.urls().allowedPrivateHosts())
        .containsExactly("mirror.internal", "10.0.0.5", "::1");
    assertThat(c.toString()).contains("https://mirror.example/images/", "mirror.internal");
    assertThat(c.toBuilder().workers(3).build().urls()).isEqualTo(c.urls());
    if (System.getenv("XENVBD_ALLOW_URLS") == null
        && System.getenv("XENVBD_ALLOW_PRIVATE_HOSTS") == null) {
      AgentConfig none =
          parse("--node-name", "n", "--token-file", token.toString(), "--insecure-plain-http");
      assertThat(none.urls()).isEqualTo(UrlPolicy.none());
    }
    assertThatThrownBy(
            () ->
                parse(
                    "--node-name",
                    "n",
                    "--token-file",
                    token.toString(),
                    "--insecure-plain-http",
                    "--allow-url",
                    "mirror.example/images/"))
        .hasMessageContaining("--allow-url 'mirror.example/images/'")
        .hasMessageContaining("https://mirror.example/images/");
    assertThatThrownBy(
            () ->
                parse(
                    "--node-name",
                    "n",
                    "--token-file",
                    token.toString(),
                    "--insecure-plain-http",
                    "--allow-private-host",
                    "http://mirror.internal/"))
        .hasMessageContaining("--allow-private-host");
  }

  @Test
  void defaultsMatchTheContract() throws Exception {
    Path token = Files.writeString(dir.resolve("token"), "t");
    AgentConfig c =
        parse("--node-name", "n", "--token-file", token.toString(), "--insecure-plain-http");
    // The environment of the build may set these twins; only check when it does not.
    if (System.getenv("XENVBD_IMAGES_ROOT") == null)
      assertThat(c.imagesRoot()).isEqualTo(Path.of("/var/lib/xen/images"));
    if (System.getenv("XENVBD_LISTEN") == null) assertThat(c.listen().getPort()).isEqualTo(8443);
    if (System.getenv("XENVBD_WORKERS") == null) assertThat(c.workers()).isEqualTo(2);
    if (System.getenv("XENVBD_HEARTBEAT_SECONDS") == null)
      assertThat(c.heartbeat()).isEqualTo(Duration.ofSeconds(10));
    if (System.getenv("XENVBD_LOOP_WAIT_SECONDS") == null)
      assertThat(c.loopWait()).isEqualTo(Duration.ofSeconds(60));
    if (System.getenv("XENVBD_LOOP_RESERVE") == null) assertThat(c.loopReserve()).isEqualTo(2);
  }

  @Test
  void missingRequiredSettingsSayWhatToSet() throws Exception {
    Path token = Files.writeString(dir.resolve("token"), "t");
    if (System.getenv("NODE_NAME") == null) {
      assertThatThrownBy(() -> parse("--token-file", token.toString(), "--insecure-plain-http"))
          .hasMessageContaining("--node-name (or NODE_NAME) is required");
    }
    assertThatThrownBy(() -> parse("--node-name", "n", "--token-file", token.toString()))
        .hasMessageContaining("--tls-cert")
        .hasMessageContaining("--insecure-plain-http");
    assertThatThrownBy(
            () ->
                parse(
                    "--node-name",
                    "n",
                    "--token-file",
                    dir.resolve("nope").toString(),
                    "--insecure-plain-http"))
        .hasMessageContaining("cannot read --token-file");
    Path empty = Files.writeString(dir.resolve("empty"), "\n");
    assertThatThrownBy(
            () ->
                parse(
                    "--node-name", "n", "--token-file", empty.toString(), "--insecure-plain-http"))
        .hasMessageContaining("token is empty");
    assertThatThrownBy(
            () ->
                parse(
                    "--node-name",
                    "n",
                    "--token-file",
                    token.toString(),
                    "--insecure-plain-http",
                    "--listen",
                    "8443"))
        .hasMessageContaining("must be address:port");
    assertThatThrownBy(
            () ->
                parse(
                    "--node-name",
                    "n",
                    "--token-file",
                    token.toString(),
                    "--insecure-plain-http",
                    "--workers",
                    "0"))
        .hasMessageContaining("--workers must be at least 1");
  }

  @Test
  void helpNamesEveryFlagAndItsEnvironmentTwin() {
    StringWriter out = new StringWriter();
    new CommandLine(new AgentCommand()).setOut(new PrintWriter(out)).execute("--help");
    assertThat(out.toString())
        .contains(
            "--node-name",
            "NODE_NAME",
            "--images-root",
            "XENVBD_IMAGES_ROOT",
            "--allow-source",
            "XENVBD_ALLOW_SOURCES",
            "--listen",
            "XENVBD_LISTEN",
            "--advertise",
            "XENVBD_ADVERTISE",
            "--tls-cert",
            "XENVBD_TLS_CERT",
            "--tls-key",
            "XENVBD_TLS_KEY",
            "--insecure-plain-http",
            "XENVBD_INSECURE_PLAIN_HTTP",
            "--token-file",
            "XENVBD_TOKEN_FILE",
            "--workers",
            "XENVBD_WORKERS",
            "--heartbeat",
            "XENVBD_HEARTBEAT_SECONDS",
            "--loop-wait",
            "XENVBD_LOOP_WAIT_SECONDS",
            "--loop-reserve",
            "XENVBD_LOOP_RESERVE",
            "--metrics-require-token",
            "XENVBD_METRICS_REQUIRE_TOKEN",
            "--kubeconfig",
            "KUBECONFIG",
            "--allow-url",
            "XENVBD_ALLOW_URLS",
            "--allow-private-host",
            "XENVBD_ALLOW_PRIVATE_HOSTS");
  }

  @Test
  void environmentTwinsAreReadAndBadValuesExitWithTheReason() throws Exception {
    Path token = Files.writeString(dir.resolve("token"), "t");
    var env = new HashMap<String, String>();
    env.put("XENVBD_TOKEN_FILE", token.toString());
    env.put("XENVBD_INSECURE_PLAIN_HTTP", "true");
    env.put("XENVBD_WORKERS", "0");
    Run withoutNode = runAgent(env);
    assertThat(withoutNode.exit()).isNotZero();
    assertThat(withoutNode.out())
        .contains("--node-name (or NODE_NAME) is required")
        .doesNotContain("\tat ");
    env.put("NODE_NAME", "dom0-a");
    Run badWorkers = runAgent(env);
    assertThat(badWorkers.exit()).isNotZero();
    assertThat(badWorkers.out())
        .contains("--workers must be at least 1, got 0")
        .doesNotContain("\tat ");
    env.put("XENVBD_WORKERS", "2");
    env.put("XENVBD_ALLOW_URLS", "https://mirror.example/images/,mirror.example/other/");
    Run badUrl = runAgent(env);
    assertThat(badUrl.exit()).isNotZero();
    assertThat(badUrl.out())
        .contains("--allow-url 'mirror.example/other/'")
        .doesNotContain("\tat ");
    env.put("XENVBD_ALLOW_URLS", "https://mirror.example/images/");
    env.put("XENVBD_ALLOW_PRIVATE_HOSTS", "mirror.internal,bad/host");
    Run badHost = runAgent(env);
    assertThat(badHost.exit()).isNotZero();
    assertThat(badHost.out()).contains("--allow-private-host 'bad/host'").doesNotContain("\tat ");
  }

  private record Run(int exit, String out) {}

  private static Run runAgent(Map<String, String> env) throws Exception {
    ProcessBuilder pb =
        new ProcessBuilder(
                Path.of(System.getProperty("java.home"), "bin", "java").toString(),
                "-cp",
                System.getProperty("java.class.path"),
                AgentCommand.class.getName())
            .redirectErrorStream(true);
    for (String name :
        List.of(
            "NODE_NAME",
            "XENVBD_TOKEN_FILE",
            "XENVBD_INSECURE_PLAIN_HTTP",
            "XENVBD_WORKERS",
            "XENVBD_TLS_CERT",
            "XENVBD_TLS_KEY",
            "KUBECONFIG",
            "XENVBD_ALLOW_URLS",
            "XENVBD_ALLOW_PRIVATE_HOSTS")) {
      pb.environment().remove(name);
    }
    pb.environment().putAll(env);
    Process p = pb.start();
    String out = new String(p.getInputStream().readAllBytes(), StandardCharsets.UTF_8);
    assertThat(p.waitFor(60, TimeUnit.SECONDS)).isTrue();
    return new Run(p.exitValue(), out);
  }
}
