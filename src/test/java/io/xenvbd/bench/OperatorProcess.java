package io.xenvbd.bench;

import io.fabric8.kubernetes.client.KubernetesClient;
import io.xenvbd.local.Wiring;
import io.xenvbd.operator.XenvbdOperator;
import io.xenvbd.testing.Exec;
import java.io.BufferedReader;
import java.io.IOException;
import java.io.InputStreamReader;
import java.io.UncheckedIOException;
import java.net.URI;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.TimeUnit;
import java.util.regex.Matcher;
import java.util.regex.Pattern;

/**
 * The operator alone in its own JVM (as the Deployment runs it), so its heap and RSS are its own.
 * Started by the scale benchmark with {@code -Xmx256m} and a GC log; it exits when its stdin
 * closes, so it never outlives the benchmark.
 */
public final class OperatorProcess {
  public static final String HEAP_LIMIT = "256m";

  private OperatorProcess() {}

  /**
   * args: kubeconfig (server and API token), agent token, agents' CA certificate (PEM), optionally
   * the poll cap in ms (what-if runs).
   */
  public static void main(String[] args) throws Exception {
    try (KubernetesClient client = Clients.client(Path.of(args[0]), null);
        XenvbdOperator op =
            XenvbdOperator.start(
                client,
                Rig.operatorConfig(
                    args.length > 3 ? Duration.ofMillis(Long.parseLong(args[3])) : null),
                Wiring.agentClients(args[1], Path.of(args[2])))) {
      System.out.println("MANAGEMENT_PORT=" + op.managementPort());
      System.out.flush();
      while (System.in.read() >= 0) {
        // wait for the parent to close our stdin
      }
    }
    System.exit(0);
  }

  /** The running child: its pid, /metrics, RSS and heap figures. */
  static final class Handle implements AutoCloseable {
    private final Process process;
    private final int port;
    private final Path gcLog;
    private final HttpClient http = HttpClient.newHttpClient();

    Handle(Process process, int port, Path gcLog) {
      this.process = process;
      this.port = port;
      this.gcLog = gcLog;
    }

    long pid() {
      return process.pid();
    }

    String metrics() {
      try {
        return http.send(
                HttpRequest.newBuilder(URI.create("http://127.0.0.1:" + port + "/metrics")).build(),
                HttpResponse.BodyHandlers.ofString())
            .body();
      } catch (IOException e) {
        throw new UncheckedIOException(e);
      } catch (InterruptedException e) {
        Thread.currentThread().interrupt();
        throw new IllegalStateException(e);
      }
    }

    /** A field of /proc/pid/status in KiB (VmRSS: now, VmHWM: peak so far). */
    long statusKib(String field) {
      try {
        for (String line : Files.readAllLines(Path.of("/proc/" + pid() + "/status"))) {
          if (line.startsWith(field + ":")) return Long.parseLong(line.replaceAll("[^0-9]", ""));
        }
      } catch (IOException e) {
        return -1;
      }
      return -1;
    }

    /** From the GC log: {peak heap used before a collection, peak heap live after one}, in MiB. */
    double[] heapPeaksMib() throws IOException {
      Pattern p = Pattern.compile("(\\d+)M->(\\d+)M\\((\\d+)M\\)");
      double before = 0;
      double after = 0;
      for (String line : Files.readAllLines(gcLog)) {
        Matcher m = p.matcher(line);
        if (m.find()) {
          before = Math.max(before, Double.parseDouble(m.group(1)));
          after = Math.max(after, Double.parseDouble(m.group(2)));
        }
      }
      return new double[] {before, after};
    }

    /** Collections in the GC log so far. */
    int collections() throws IOException {
      return (int) Files.readAllLines(gcLog).stream().filter(l -> l.contains("Pause")).count();
    }

    /** Heap in use now, from jcmd GC.heap_info ("used NNNK"), in MiB; -1 if jcmd is unavailable. */
    double heapUsedNowMib() {
      Exec.Result r = Exec.run(List.of("jcmd", Long.toString(pid()), "GC.heap_info"));
      Matcher m = Pattern.compile("used (\\d+)K").matcher(r.out());
      return r.exit() == 0 && m.find() ? Long.parseLong(m.group(1)) / 1024.0 : -1;
    }

    @Override
    public void close() {
      try {
        process.getOutputStream().close();
        if (!process.waitFor(20, TimeUnit.SECONDS)) process.destroy();
        if (!process.waitFor(10, TimeUnit.SECONDS)) process.destroyForcibly();
      } catch (IOException e) {
        process.destroyForcibly();
      } catch (InterruptedException e) {
        process.destroyForcibly();
        Thread.currentThread().interrupt();
      }
    }
  }

  static Handle spawn(Path dir, Path kubeconfig, String token, Path ca, Duration pollMax)
      throws IOException {
    Path gcLog = dir.resolve("operator-gc.log");
    List<String> cmd =
        new ArrayList<>(
            List.of(
                Path.of(System.getProperty("java.home"), "bin", "java").toString(),
                "-Xmx" + HEAP_LIMIT,
                "-Xlog:gc:file=" + gcLog,
                "-Dorg.slf4j.simpleLogger.logFile=" + dir.resolve("operator.log"),
                "-Dorg.slf4j.simpleLogger.showDateTime=true",
                "-cp",
                System.getProperty("java.class.path"),
                OperatorProcess.class.getName(),
                kubeconfig.toString(),
                token,
                ca.toString()));
    // Profiling hook, e.g.
    // -Dbench.operatorJvmArgs=-XX:StartFlightRecording=filename=/tmp/operator.jfr
    String extra = System.getProperty("bench.operatorJvmArgs", "").strip();
    if (!extra.isEmpty()) cmd.addAll(1, List.of(extra.split("\\s+")));
    if (pollMax != null) cmd.add(Long.toString(pollMax.toMillis()));
    Process p =
        new ProcessBuilder(cmd).redirectError(dir.resolve("operator.stderr").toFile()).start();
    BufferedReader out =
        new BufferedReader(new InputStreamReader(p.getInputStream(), StandardCharsets.UTF_8));
    String line;
    while ((line = out.readLine()) != null) {
      if (line.startsWith("MANAGEMENT_PORT=")) {
        return new Handle(p, Integer.parseInt(line.substring("MANAGEMENT_PORT=".length())), gcLog);
      }
    }
    p.destroyForcibly();
    throw new IllegalStateException(
        "the operator's JVM exited before it was ready; see " + dir.resolve("operator.stderr"));
  }
}
