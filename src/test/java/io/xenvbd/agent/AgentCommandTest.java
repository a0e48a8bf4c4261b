package io.xenvbd.agent;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import java.io.PrintWriter;
import java.io.StringWriter;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.List;
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
    AgentConfig c = parse("--node-name", "dom0-a", "--images-root", dir.resolve("img").toString(),
        "--allow-source", "/srv/a", "--allow-source", "/srv/b:/srv/c", "--listen", "127.0.0.1:9443",
        "--tls-cert", "/x/tls.crt", "--tls-key", "/x/tls.key", "--token-file", token.toString(),
        "--workers", "3", "--heartbeat", "5", "--loop-wait", "7", "--metrics-require-token");
    assertThat(c.nodeName()).isEqualTo("dom0-a");
    assertThat(c.allowedSources()).containsExactly(Path.of("/srv/a"), Path.of("/srv/b"), Path.of("/srv/c"));
    assertThat(c.listen().getPort()).isEqualTo(9443);
    assertThat(c.listen().getHostString()).isEqualTo("127.0.0.1");
    assertThat(c.token()).isEqualTo("s3cret");
    assertThat(c.workers()).isEqualTo(3);
    assertThat(c.heartbeat()).isEqualTo(Duration.ofSeconds(5));
    assertThat(c.loopWait()).isEqualTo(Duration.ofSeconds(7));
    assertThat(c.metricsRequireToken()).isTrue();
    assertThat(c.insecurePlainHttp()).isFalse();
    assertThat(c.toString()).doesNotContain("s3cret");
  }

  @Test
  void defaultsMatchTheContract() throws Exception {
    Path token = Files.writeString(dir.resolve("token"), "t");
    AgentConfig c = parse("--node-name", "n", "--token-file", token.toString(), "--insecure-plain-http");
    // The environment of the build may set these twins; only check when it does not.
    if (System.getenv("XENVBD_IMAGES_ROOT") == null) assertThat(c.imagesRoot()).isEqualTo(Path.of("/var/lib/xen/images"));
    if (System.getenv("XENVBD_LISTEN") == null) assertThat(c.listen().getPort()).isEqualTo(8443);
    if (System.getenv("XENVBD_WORKERS") == null) assertThat(c.workers()).isEqualTo(2);
    if (System.getenv("XENVBD_HEARTBEAT_SECONDS") == null) assertThat(c.heartbeat()).isEqualTo(Duration.ofSeconds(10));
    if (System.getenv("XENVBD_LOOP_WAIT_SECONDS") == null) assertThat(c.loopWait()).isEqualTo(Duration.ofSeconds(60));
  }

  @Test
  void missingRequiredSettingsSayWhatToSet() throws Exception {
    Path token = Files.writeString(dir.resolve("token"), "t");
    if (System.getenv("NODE_NAME") == null) {
      assertThatThrownBy(() -> parse("--token-file", token.toString(), "--insecure-plain-http"))
          .hasMessageContaining("--node-name (or NODE_NAME) is required");
    }
    assertThatThrownBy(() -> parse("--node-name", "n", "--token-file", token.toString()))
        .hasMessageContaining("--tls-cert").hasMessageContaining("--insecure-plain-http");
    assertThatThrownBy(() -> parse("--node-name", "n", "--token-file", dir.resolve("nope").toString(), "--insecure-plain-http"))
        .hasMessageContaining("cannot read --token-file");
    Path empty = Files.writeString(dir.resolve("empty"), "\n");
    assertThatThrownBy(() -> parse("--node-name", "n", "--token-file", empty.toString(), "--insecure-plain-http"))
        .hasMessageContaining("token is empty");
    assertThatThrownBy(() -> parse("--node-name", "n", "--token-file", token.toString(), "--insecure-plain-http", "--listen", "8443"))
        .hasMessageContaining("must be address:port");
    assertThatThrownBy(() -> parse("--node-name", "n", "--token-file", token.toString(), "--insecure-plain-http", "--workers", "0"))
        .hasMessageContaining("--workers must be at least 1");
  }

  @Test
  void helpNamesEveryFlagAndItsEnvironmentTwin() {
    StringWriter out = new StringWriter();
    new CommandLine(new AgentCommand()).setOut(new PrintWriter(out)).execute("--help");
    assertThat(out.toString()).contains("--node-name", "NODE_NAME", "--images-root", "XENVBD_IMAGES_ROOT",
        "--allow-source", "XENVBD_ALLOW_SOURCES", "--listen", "XENVBD_LISTEN", "--advertise", "XENVBD_ADVERTISE",
        "--tls-cert", "XENVBD_TLS_CERT", "--tls-key", "XENVBD_TLS_KEY", "--insecure-plain-http",
        "XENVBD_INSECURE_PLAIN_HTTP", "--token-file", "XENVBD_TOKEN_FILE", "--workers", "XENVBD_WORKERS",
        "--heartbeat", "XENVBD_HEARTBEAT_SECONDS", "--loop-wait", "XENVBD_LOOP_WAIT_SECONDS",
        "--metrics-require-token", "XENVBD_METRICS_REQUIRE_TOKEN", "--kubeconfig", "KUBECONFIG");
  }

  @Test
  void environmentTwinsAreReadAndBadValuesExitWithTheReason() throws Exception {
    Path token = Files.writeString(dir.resolve("token"), "t");
    var env = new java.util.HashMap<String, String>();
    env.put("XENVBD_TOKEN_FILE", token.toString());
    env.put("XENVBD_INSECURE_PLAIN_HTTP", "true");
    env.put("XENVBD_WORKERS", "0");
    Run withoutNode = runAgent(env);
    assertThat(withoutNode.exit()).isNotZero();
    assertThat(withoutNode.out()).contains("--node-name (or NODE_NAME) is required").doesNotContain("\tat ");
    env.put("NODE_NAME", "dom0-a");
    Run badWorkers = runAgent(env);
    assertThat(badWorkers.exit()).isNotZero();
    assertThat(badWorkers.out()).contains("--workers must be at least 1, got 0").doesNotContain("\tat ");
  }

  private record Run(int exit, String out) {}

  private static Run runAgent(java.util.Map<String, String> env) throws Exception {
    ProcessBuilder pb = new ProcessBuilder(Path.of(System.getProperty("java.home"), "bin", "java").toString(),
        "-cp", System.getProperty("java.class.path"), AgentCommand.class.getName()).redirectErrorStream(true);
    for (String name : List.of("NODE_NAME", "XENVBD_TOKEN_FILE", "XENVBD_INSECURE_PLAIN_HTTP", "XENVBD_WORKERS",
        "XENVBD_TLS_CERT", "XENVBD_TLS_KEY", "KUBECONFIG")) {
      pb.environment().remove(name);
    }
    pb.environment().putAll(env);
    Process p = pb.start();
    String out = new String(p.getInputStream().readAllBytes(), java.nio.charset.StandardCharsets.UTF_8);
    assertThat(p.waitFor(60, java.util.concurrent.TimeUnit.SECONDS)).isTrue();
    return new Run(p.exitValue(), out);
  }
}
