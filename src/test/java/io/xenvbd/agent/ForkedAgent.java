package io.xenvbd.agent;

import io.xenvbd.tls.Tls;
import java.io.BufferedReader;
import java.io.IOException;
import java.io.InputStreamReader;
import java.net.InetSocketAddress;
import java.net.URI;
import java.nio.charset.StandardCharsets;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Collections;
import java.util.List;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.TimeUnit;
import javax.net.ssl.SSLContext;

/**
 * A real agent in a JVM of its own. The JDK's HTTP server reads its limits once per JVM, when the
 * first server starts; a fresh JVM is the only way to be sure the agent's own settings, or the ones
 * a test gives with {@code -D}, are the ones in force, as they are in {@code xenvbd agent}.
 */
final class ForkedAgent implements AutoCloseable {
  private static final String READY = "FORKED-AGENT ";

  final InetSocketAddress address;
  final URI endpoint;
  final String token;
  final SSLContext clientSsl;
  private final Process process;
  private final List<String> output;

  /** The agent's process id. */
  long pid() {
    return process.pid();
  }

  /** What the agent printed, for failure messages. */
  String output() {
    synchronized (output) {
      return String.join("\n", output);
    }
  }

  private ForkedAgent(Process process, List<String> output, String[] ready) {
    this.process = process;
    this.output = output;
    this.endpoint = URI.create(ready[0]);
    this.address = new InetSocketAddress("127.0.0.1", endpoint.getPort());
    this.token = ready[1];
    this.clientSsl = Tls.clientContext(Path.of(ready[2]));
  }

  /** Starts {@code java -D... ForkedAgent dir} and waits until it serves. */
  static ForkedAgent start(Path dir, List<String> systemProperties)
      throws IOException, InterruptedException {
    List<String> command =
        new ArrayList<>(
            List.of(
                Path.of(System.getProperty("java.home"), "bin", "java").toString(),
                "-cp",
                System.getProperty("java.class.path")));
    command.addAll(systemProperties);
    command.addAll(List.of(ForkedAgent.class.getName(), dir.toString()));
    Process p = new ProcessBuilder(command).redirectErrorStream(true).start();
    List<String> output = Collections.synchronizedList(new ArrayList<>());
    CompletableFuture<String[]> ready = new CompletableFuture<>();
    Thread reader =
        new Thread(
            () -> {
              try (BufferedReader r =
                  new BufferedReader(
                      new InputStreamReader(p.getInputStream(), StandardCharsets.UTF_8))) {
                for (String line = r.readLine(); line != null; line = r.readLine()) {
                  output.add(line);
                  if (line.startsWith(READY))
                    ready.complete(line.substring(READY.length()).split(" "));
                }
              } catch (IOException e) {
                // the process is gone
              }
              ready.completeExceptionally(
                  new IllegalStateException("the forked agent exited: " + output));
            },
            "forked-agent-output");
    reader.setDaemon(true);
    reader.start();
    try {
      return new ForkedAgent(p, output, ready.get(60, TimeUnit.SECONDS));
    } catch (Exception e) {
      p.destroyForcibly().waitFor(10, TimeUnit.SECONDS);
      throw new IllegalStateException("the forked agent did not start: " + output, e);
    }
  }

  @Override
  public void close() throws IOException, InterruptedException {
    process.getOutputStream().close(); // the agent stops when its stdin ends
    if (!process.waitFor(30, TimeUnit.SECONDS)) {
      process.destroyForcibly().waitFor(10, TimeUnit.SECONDS);
    }
  }

  public static void main(String[] args) throws Exception {
    try (AgentHarness h = AgentHarness.start(Path.of(args[0]), null)) {
      System.out.println(READY + h.agent.endpoint() + " " + h.token + " " + h.tls.caCert());
      System.out.flush();
      while (System.in.read() != -1) {
        // serve until the test closes our stdin
      }
    }
  }
}
