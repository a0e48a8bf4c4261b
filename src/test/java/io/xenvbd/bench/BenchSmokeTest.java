package io.xenvbd.bench;

import static org.assertj.core.api.Assertions.assertThat;

import io.xenvbd.testing.RequiresRoot;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import java.util.stream.Stream;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * Each benchmark runs end to end at a tiny scale and writes its report section. Timings are never
 * asserted (the machine is shared and noisy); what is checked is that every figure was produced.
 */
@RequiresRoot
class BenchSmokeTest {
  @TempDir static Path work;
  static Path source;

  @BeforeAll
  static void tinyTree() throws Exception {
    source = work.resolve("source");
    Files.createDirectories(source.resolve("etc"));
    Files.createDirectories(source.resolve("usr/lib"));
    Files.writeString(source.resolve("etc/issue"), "bench\n");
    Files.write(source.resolve("usr/lib/blob"), new byte[256 * 1024]);
    Files.createSymbolicLink(source.resolve("usr/lib/link"), Path.of("blob"));
  }

  private Ctx ctx(String name) {
    return new Ctx(
        work.resolve(name),
        new Report(work.resolve(name + ".md")),
        Path.of("").toAbsolutePath(),
        source,
        1,
        4,
        20,
        8,
        2,
        "none",
        "4Mi",
        true,
        false,
        null,
        null,
        "bench/run.sh " + name + " (smoke)",
        2,
        4);
  }

  private static String report(Ctx ctx) throws Exception {
    return Files.readString(ctx.report().file());
  }

  @Test
  void recipeAgainstEveryPopulateMethodWritesMediansAndRatios() throws Exception {
    Ctx ctx = ctx("recipe");
    RecipeBench.run(ctx);
    String md = report(ctx);
    for (String v : RecipeBench.VARIANTS) assertThat(md).contains("| " + v + " |");
    assertThat(md)
        .containsPattern("\\| B Auto \\| [0-9.]+ \\([0-9.]+–[0-9.]+\\) s \\| \\*\\*[0-9.]+\\*\\*")
        .contains("Reproduce: `bench/run.sh recipe");
    assertNoLoopDeviceOn(ctx.work());
  }

  @Test
  void aFleetOfClonesOnExt4AndOnAnXfsReflinkRootReportsTimesBytesAndMethods() throws Exception {
    Ctx ctx = ctx("fleet");
    FleetBench.run(ctx);
    assertThat(report(ctx))
        .contains(
            "| ext4, fleet 1 (cold) |",
            "| ext4, fleet 2 |",
            "| xfs-reflink, fleet 1 (cold) |",
            "| xfs-reflink, fleet 2 |",
            "| xfs-reflink, fleet 4 (long-running: after 6 clones) |",
            "{SparseCopy=2}",
            "{Reflink=2}")
        .containsPattern(
            "\\| xfs-reflink, fleet 2 \\| [0-9.]+ s \\| \\*\\*[0-9.]+\\*\\* \\| [0-9.]+ s \\|"
                + " [0-9.]+ \\| [0-9.]+ s, \\*\\*[0-9.]+\\*\\* \\| [0-9.]+ / [0-9.]+ s \\|")
        // what each disk cost the control plane: at least its create, its status and a reconcile
        .containsPattern(
            "xfs-reflink, fleet 2: [1-9][0-9.]* API writes, [0-9.]+ API reads, [1-9][0-9.]*"
                + " reconciles, [1-9][0-9.]* agent calls")
        // one clone at a time (the agent's build times are not in this test's log)
        .containsPattern("\\| ext4 \\| [0-9.]+ \\([0-9.]+–[0-9.]+\\) s \\| \\*\\*[0-9.]+\\*\\* \\|")
        .containsPattern(
            "\\| xfs-reflink \\| [0-9.]+ \\([0-9.]+–[0-9.]+\\) s \\| \\*\\*[0-9.]+\\*\\* \\|")
        // every reflink fleet's time, in order
        .containsPattern(
            "Every fleet on the reflink root, in order \\(first create → last Ready, s\\):"
                + " [0-9.]+, [0-9.]+, [0-9.]+, [0-9.]+\\. ");
    assertNoLoopDeviceOn(ctx.work());
  }

  @Test
  void theFleetsSequenceSaysHowManyFleetsWereBelowFiveRecipeRunsAndWhereTheLastTenSettled() {
    // 5 × 0.42 s = 2.10 s: 2.10 itself is not below
    assertThat(FleetBench.sequenceLine(List.of(3.0, 2.4, 1.9, 2.1, 1.8), 0.42))
        .contains("3.00, 2.40, 1.90, 2.10, 1.80. ")
        .contains("Below 5 recipe runs (2.10 s): 2 of 5, the first the 3rd;")
        .contains("the last 5 fleets' median **2.10 s = 5.00** recipe runs.");
    assertThat(FleetBench.sequenceLine(List.of(3.0, 2.2), 0.42))
        .contains("Below 5 recipe runs (2.10 s): none;");
    List<Double> twelve = new java.util.ArrayList<>(java.util.Collections.nCopies(11, 2.0));
    twelve.add(0, 9.0);
    assertThat(FleetBench.sequenceLine(twelve, 0.42))
        .contains("11 of 12, the first the 2nd;")
        .contains("the last 10 fleets' median **2.00 s = 4.76** recipe runs.");
  }

  @Test
  void latencyReportsPercentilesAndRequestsPerDisk() throws Exception {
    Ctx ctx = ctx("latency");
    LatencyBench.run(ctx);
    assertThat(report(ctx))
        .containsPattern("\\| [0-9]+ ms \\| \\*\\*[0-9]+ ms\\*\\* \\| [0-9]+ ms")
        .containsPattern("\\| operator \\| [1-9][0-9]* \\| \\*\\*[0-9.]+\\*\\*");
  }

  @Test
  void scaleMeasuresTheOperatorInItsOwnJvm() throws Exception {
    Ctx ctx = ctx("scale");
    ScaleBench.run(ctx);
    assertThat(report(ctx))
        .contains("### 3. Scale: 8 disks, 2 agents")
        .containsPattern("RSS peak \\*\\*[1-9][0-9]* MiB\\*\\*")
        .containsPattern("heap used peak \\*\\*[1-9][0-9]* MiB");
  }

  @Test
  void sparsenessCoversEveryFilesystemAndTheTools() throws Exception {
    Ctx ctx = ctx("sparse");
    SparseBench.run(ctx);
    String md = report(ctx);
    for (String fs : SparseBench.FILESYSTEMS)
      assertThat(md).contains("| `filesystem: " + fs + "` |");
    assertThat(md).contains("recipe: dd + `mkfs -t ext3` (defaults)");
  }

  @Test
  void throughputComparesBothMethodsWithCp() throws Exception {
    Ctx ctx = ctx("throughput");
    ThroughputBench.run(ctx);
    assertThat(report(ctx))
        .contains("| cp -a (baseline) |")
        .containsPattern("\\| LoopMount \\| .*\\*\\*[0-9]+ %\\*\\*")
        .containsPattern("\\| Offline \\| .*\\*\\*[0-9]+ %\\*\\*");
    assertNoLoopDeviceOn(ctx.work());
  }

  private static void assertNoLoopDeviceOn(Path dir) throws Exception {
    for (Path backing :
        List.of(Path.of("/sys/block")).stream()
            .flatMap(
                p -> {
                  try (var s = Files.list(p)) {
                    return s
                        .map(b -> b.resolve("loop/backing_file"))
                        .filter(Files::exists)
                        .toList()
                        .stream();
                  } catch (Exception e) {
                    return Stream.empty();
                  }
                })
            .toList()) {
      assertThat(Files.readString(backing).strip()).doesNotStartWith(dir.toString());
    }
  }
}
