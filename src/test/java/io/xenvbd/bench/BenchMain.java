package io.xenvbd.bench;

import io.xenvbd.testing.Exec;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.List;
import java.util.concurrent.Callable;
import picocli.CommandLine;
import picocli.CommandLine.Command;
import picocli.CommandLine.Option;
import picocli.CommandLine.Parameters;

/**
 * The benchmarks of issue 9 as one program: each writes its section of docs/benchmarks.md. Run
 * through bench/run.sh (builds the jar, then java -cp target/xenvbd.jar:target/test-classes). Needs
 * root.
 */
@Command(
    name = "bench",
    mixinStandardHelpOptions = true,
    description =
        "Run xenvbd's benchmarks (recipe, latency, scale, sparse, throughput, fleet; default: all) and write"
            + " their sections of the report.")
public final class BenchMain implements Callable<Integer> {
  @Parameters(
      arity = "0..*",
      paramLabel = "BENCH",
      description =
          "recipe, latency, scale, sparse, throughput, fleet (default: all), crossnode (issue 16's 4(c)); profiles: api (the"
              + " embedded API server's create cost, uses --scale-disks), stages (the agent's build stage by stage)")
  List<String> which = List.of("sparse", "throughput", "recipe", "latency", "scale", "fleet");

  @Option(
      names = "--work",
      description = "Scratch directory (removed at the end; default ${DEFAULT-VALUE}).")
  Path work = Path.of("/tmp/xenvbd-bench");

  @Option(names = "--report", description = "Markdown report to update (default ${DEFAULT-VALUE}).")
  Path report = Path.of("docs/benchmarks.md");

  @Option(
      names = "--source",
      description =
          "Tree to populate disks with; copied to the scratch directory first"
              + " (default ${DEFAULT-VALUE}).")
  Path source = Path.of("/usr/lib/jvm/java-17-openjdk-amd64");

  @Option(
      names = "--runs",
      description = "Measured rounds of benchmarks 1 and 5 (default ${DEFAULT-VALUE}).")
  int runs = 5;

  @Option(
      names = "--latency-disks",
      description = "Disks of benchmark 2 (default ${DEFAULT-VALUE}).")
  int latencyDisks = 100;

  @Option(
      names = "--latency-gap-ms",
      description = "Gap between creates in benchmark 2 (default ${DEFAULT-VALUE}).")
  long latencyGap = 100;

  @Option(
      names = "--scale-disks",
      split = ",",
      description = "Disk counts of benchmark 3 (default ${DEFAULT-VALUE}).")
  List<Integer> scaleDisks = List.of(1000);

  @Option(
      names = "--scale-agents",
      description = "Agents of benchmark 3 (default ${DEFAULT-VALUE}).")
  int scaleAgents = 20;

  @Option(
      names = "--scale-fs",
      description = "Filesystem of benchmark 3's disks (default ${DEFAULT-VALUE}).")
  String scaleFs = "none";

  @Option(
      names = "--scale-size",
      description = "Size of benchmark 3's disks (default ${DEFAULT-VALUE}).")
  String scaleSize = "16Mi";

  @Option(
      names = "--scale-operator-in-process",
      description = "Run benchmark 3's operator in this JVM instead of its own.")
  boolean scaleInProcess;

  @Option(
      names = "--fleet-disks",
      description = "Clones of the fleet benchmark (default ${DEFAULT-VALUE}).")
  int fleetDisks = 50;

  @Option(
      names = "--fleet-long-run",
      description =
          "Fleets on the reflink root in all, one after another in one JVM: the tenth and the last are"
              + " reported besides the first two, every one's time in a line: an agent that has been"
              + " running (default ${DEFAULT-VALUE}; 0: two only).")
  int fleetLongRun = 50;

  @Option(
      names = "--what-if-poll-max-ms",
      description =
          "What-if: cap the operator's poll of a building disk at this"
              + " many ms (recipe, latency, scale; written to separate *-whatif sections). Default: the product as shipped.")
  Long pollMaxMs;

  @Option(
      names = "--what-if-agent-workers",
      description = "What-if: build workers per agent (local mode: 2).")
  Integer agentWorkers;

  private final String command;

  BenchMain(String command) {
    this.command = command;
  }

  public static void main(String[] args) {
    String command = "bench/run.sh" + (args.length == 0 ? "" : " " + String.join(" ", args));
    System.exit(new CommandLine(new BenchMain(command)).execute(args));
  }

  /**
   * Logs (the agents' "build of … done in …" lines) go to the scratch directory, with timestamps.
   */
  static void logTo(Path file) {
    // The breakdowns read the agent's info lines; tests log at warn (src/test/resources).
    System.setProperty("org.slf4j.simpleLogger.defaultLogLevel", "info");
    System.setProperty("org.slf4j.simpleLogger.logFile", file.toString());
    System.setProperty("org.slf4j.simpleLogger.showDateTime", "true");
    System.setProperty("org.slf4j.simpleLogger.dateTimeFormat", "HH:mm:ss.SSS");
  }

  @Override
  public Integer call() throws Exception {
    Rig.removeTree(work);
    Files.createDirectories(work);
    logTo(work.resolve("xenvbd.log"));
    Path tree = work.resolve("source");
    Exec.run("cp", "-a", source.toAbsolutePath() + "/.", tree + "/").ok();
    for (String bench : which) {
      long t0 = System.nanoTime();
      System.out.printf("bench %s ...%n", bench);
      for (Ctx ctx : contexts(tree, bench)) run(bench, ctx);
      System.out.printf("bench %s done in %.1f s%n", bench, (System.nanoTime() - t0) / 1e9);
    }
    Rig.removeTree(
        tree); // the copy of the source; the log stays in the scratch directory for profiling
    System.out.println(
        "report: " + report.toAbsolutePath() + " (log: " + work.resolve("xenvbd.log") + ")");
    return 0;
  }

  private List<Ctx> contexts(Path tree, String bench) {
    Report r = new Report(report);
    Path repo = Path.of("").toAbsolutePath();
    if (!bench.equals("scale") && !bench.equals("api")) {
      return List.of(
          new Ctx(
              work,
              r,
              repo,
              tree,
              runs,
              latencyDisks,
              latencyGap,
              0,
              scaleAgents,
              scaleFs,
              scaleSize,
              !scaleInProcess,
              true,
              pollMax(),
              agentWorkers,
              command,
              fleetDisks,
              fleetLongRun));
    }
    return scaleDisks.stream()
        .map(
            n ->
                new Ctx(
                    work,
                    r,
                    repo,
                    tree,
                    runs,
                    latencyDisks,
                    latencyGap,
                    n,
                    scaleAgents,
                    scaleFs,
                    scaleSize,
                    !scaleInProcess,
                    true,
                    pollMax(),
                    agentWorkers,
                    command,
                    fleetDisks,
                    fleetLongRun))
        .toList();
  }

  private Duration pollMax() {
    return pollMaxMs == null ? null : Duration.ofMillis(pollMaxMs);
  }

  static void run(String bench, Ctx ctx) throws Exception {
    switch (bench) {
      case "recipe" -> RecipeBench.run(ctx);
      case "latency" -> LatencyBench.run(ctx);
      case "scale" -> ScaleBench.run(ctx);
      case "sparse" -> SparseBench.run(ctx);
      case "throughput" -> ThroughputBench.run(ctx);
      case "api" -> ApiBench.run(ctx);
      case "stages" -> StagesBench.run(ctx);
      case "crossnode" -> CrossNodeBench.run(ctx);
      case "fleet" -> FleetBench.run(ctx);
      default ->
          throw new CommandLine.ParameterException(
              new CommandLine(new BenchMain("")),
              "unknown benchmark '"
                  + bench
                  + "': choose recipe, latency, scale, sparse, throughput, fleet or crossnode");
    }
  }
}
