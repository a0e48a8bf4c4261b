package io.xenvbd.reliability;

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

/**
 * A node agent as its own JVM, {@code java -jar xenvbd-node.jar agent ...} (the jar its image
 * runs), so that a crash is a real SIGKILL: the JVM and every tool it started (mke2fs, cp, tar,
 * e2fsck) die at once, as when a container is killed, and whatever mounts and loop devices they
 * held stay behind in the kernel.
 */
final class AgentProcess implements AutoCloseable {
  final String node;
  final Path root;
  final int port;
  final Path log;
  private final List<String> command;
  private Process process;
  private int starts;

  AgentProcess(
      String node, Path root, List<Path> allowed, int port, Rig rig, Path log, List<String> extra) {
    this(node, root, allowed, port, port, rig, log, extra);
  }

  /** {@code advertisedPort} differs from {@code port} when a {@link TcpProxy} stands in front. */
  AgentProcess(
      String node,
      Path root,
      List<Path> allowed,
      int port,
      int advertisedPort,
      Rig rig,
      Path log,
      List<String> extra) {
    this.node = node;
    this.root = root;
    this.port = port;
    this.log = log;
    List<String> cmd =
        new ArrayList<>(
            List.of(
                "java",
                "-Xmx192m",
                "-XX:TieredStopAtLevel=1",
                "-jar",
                nodeJar(),
                "agent",
                "--node-name",
                node,
                "--images-root",
                root.toString(),
                "--listen",
                "127.0.0.1:" + port,
                "--advertise",
                "https://127.0.0.1:" + advertisedPort,
                "--tls-cert",
                rig.tls.cert().toString(),
                "--tls-key",
                rig.tls.key().toString(),
                "--token-file",
                rig.tokenFile.toString(),
                "--kubeconfig",
                rig.kubeconfig.toString(),
                "--heartbeat",
                "1",
                "--loop-wait",
                "5"));
    for (Path a : allowed) cmd.addAll(List.of("--allow-source", a.toString()));
    cmd.addAll(extra);
    this.command = List.copyOf(cmd);
  }

  /** The full jar, for local mode. */
  static String jar() {
    return built(System.getProperty("xenvbd.jar", "target/xenvbd.jar"));
  }

  /** The node jar, the operator and agent image's. */
  static String nodeJar() {
    return built(System.getProperty("xenvbd.nodeJar", "target/xenvbd-node.jar"));
  }

  private static String built(String jar) {
    if (!Files.isRegularFile(Path.of(jar))) {
      throw new AssertionError(
          jar + " does not exist: run these tests with `mvn verify` (failsafe), after package");
    }
    return jar;
  }

  /** Starts the JVM and waits until /healthz answers. */
  AgentProcess start(SSLContext ssl) {
    try {
      Files.createDirectories(root);
      ProcessBuilder pb =
          new ProcessBuilder(command)
              .redirectErrorStream(true)
              .redirectOutput(ProcessBuilder.Redirect.appendTo(log.toFile()));
      pb.environment().remove("KUBECONFIG");
      process = pb.start();
      starts++;
    } catch (IOException e) {
      throw new AssertionError("cannot start the agent: " + e.getMessage(), e);
    }
    HttpClient http =
        HttpClient.newBuilder().sslContext(ssl).connectTimeout(Duration.ofSeconds(2)).build();
    long deadline = System.nanoTime() + TimeUnit.SECONDS.toNanos(60);
    while (System.nanoTime() < deadline) {
      if (!process.isAlive())
        throw new AssertionError("agent " + node + " exited at start:\n" + tail());
      try {
        HttpResponse<String> r =
            http.send(
                HttpRequest.newBuilder(URI.create("https://127.0.0.1:" + port + "/healthz"))
                    .timeout(Duration.ofSeconds(2))
                    .build(),
                HttpResponse.BodyHandlers.ofString());
        if (r.statusCode() == 200) return this;
      } catch (IOException e) {
        // not listening yet
      } catch (InterruptedException e) {
        Thread.currentThread().interrupt();
        throw new AssertionError(e);
      }
      sleep(100);
    }
    throw new AssertionError("agent " + node + " did not answer /healthz within 60s:\n" + tail());
  }

  int starts() {
    return starts;
  }

  boolean alive() {
    return process != null && process.isAlive();
  }

  long pid() {
    return process.pid();
  }

  /** Names of the tools the agent is running right now (children of its JVM). */
  List<String> runningTools() {
    if (!alive()) return List.of();
    return names(process.descendants().toList());
  }

  static List<String> names(List<ProcessHandle> handles) {
    return handles.stream()
        .map(h -> h.info().command().orElse("?"))
        .map(c -> c.substring(c.lastIndexOf('/') + 1))
        .toList();
  }

  /**
   * SIGKILL to the JVM first (from that instant the agent decides and renames nothing more), then
   * to every tool it had started, as when a container dies. Returns the tools' names.
   */
  List<String> kill9() {
    if (process == null) return List.of();
    List<ProcessHandle> tools = new ArrayList<>(process.descendants().toList());
    List<String> running = names(tools); // read before the kill: a dead process has no command line
    process.destroyForcibly(); // SIGKILL on Linux
    tools.addAll(process.descendants().toList()); // any started meanwhile and not yet re-parented
    for (ProcessHandle h : tools) h.destroyForcibly();
    try {
      process.waitFor(30, TimeUnit.SECONDS);
      for (ProcessHandle h : tools) h.onExit().get(30, TimeUnit.SECONDS);
    } catch (Exception e) {
      throw new AssertionError("agent " + node + " did not die: " + e, e);
    }
    return running.stream().distinct().toList();
  }

  /** SIGKILL to the JVM alone, at once; its tools are then killed by {@link #kill9()}. */
  void killJvmNow() {
    process.destroyForcibly();
  }

  /** A clean stop (SIGTERM), as kubectl delete pod would do. */
  void stop() {
    if (process == null || !process.isAlive()) return;
    process.destroy();
    try {
      if (!process.waitFor(60, TimeUnit.SECONDS)) kill9();
    } catch (InterruptedException e) {
      Thread.currentThread().interrupt();
    }
  }

  String tail() {
    try {
      List<String> lines = Files.readAllLines(log);
      return String.join("\n", lines.subList(Math.max(0, lines.size() - 40), lines.size()));
    } catch (IOException e) {
      return "(no log: " + e.getMessage() + ")";
    }
  }

  static void sleep(long ms) {
    try {
      Thread.sleep(ms);
    } catch (InterruptedException e) {
      Thread.currentThread().interrupt();
      throw new AssertionError(e);
    }
  }

  @Override
  public void close() {
    stop();
  }
}
