package io.xenvbd.helm;

import static org.assertj.core.api.Assertions.assertThat;

import com.marcnuri.helm.Helm;
import com.marcnuri.helm.LintResult;
import java.io.IOException;
import java.io.UncheckedIOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardCopyOption;
import java.util.ArrayDeque;
import java.util.ArrayList;
import java.util.Deque;
import java.util.List;
import java.util.Map;
import java.util.stream.Stream;
import javax.xml.parsers.DocumentBuilderFactory;
import javax.xml.xpath.XPathFactory;
import org.junit.jupiter.api.Test;
import org.snakeyaml.engine.v2.api.Load;
import org.snakeyaml.engine.v2.api.LoadSettings;

/** The chart's own files: lint, version, CRDs, documented values. */
class HelmChartFilesTest {
  static final Path TOP_LEVEL_CRDS = Path.of("crds");
  static final Path GENERATED_CRDS = Path.of("target/classes/META-INF/fabric8");

  @Test
  void lintStrictIsClean() {
    LintResult result = new Helm(Chart.DIR).lint().strict().call();
    assertThat(result.isFailed()).as("%s", result.getMessages()).isFalse();
    assertThat(result.getMessages())
        .noneMatch(m -> m.contains("[WARNING]") || m.contains("[ERROR]"));
  }

  /**
   * The chart names the release it belongs to: version and appVersion equal the Maven version
   * without -SNAPSHOT (a SNAPSHOT build is a pre-release of that version; Helm's SemVer would sort
   * 0.1.0-SNAPSHOT before 0.1.0, which is right, but the release process drops the suffix once).
   */
  @Test
  void chartVersionAndAppVersionAreTheMavenVersionWithoutSnapshot() throws Exception {
    var pom = DocumentBuilderFactory.newInstance().newDocumentBuilder().parse("pom.xml");
    String mavenVersion = XPathFactory.newInstance().newXPath().evaluate("/project/version", pom);
    String release = mavenVersion.replaceFirst("-SNAPSHOT$", "");

    assertThat(release).matches("\\d+\\.\\d+\\.\\d+");
    assertThat(chartYaml())
        .containsEntry("version", release)
        .containsEntry("appVersion", release)
        .containsEntry("apiVersion", "v2");
  }

  /**
   * crds/ of the chart equals the top-level crds/ (committed, guarded against the Java model by the
   * API's own test) when that exists, otherwise the CRDs generated at process-classes. {@code
   * -Dxenvbd.updateChartCrds=true} copies the source over the chart's files first.
   */
  @Test
  void chartCrdsEqualTheProjectsCrds() throws IOException {
    List<Path> chartFiles = list(Chart.DIR.resolve("crds"));
    assertThat(chartFiles)
        .extracting(p -> p.getFileName().toString())
        .containsExactly("dom0nodes.xenvbd.io.yaml", "virtualdisks.xenvbd.io.yaml");
    boolean update = Boolean.getBoolean("xenvbd.updateChartCrds");
    if (Files.isDirectory(TOP_LEVEL_CRDS)) {
      assertThat(list(TOP_LEVEL_CRDS))
          .extracting(p -> p.getFileName().toString())
          .containsExactlyElementsOf(
              chartFiles.stream().map(p -> p.getFileName().toString()).toList());
      for (Path chartFile : chartFiles) {
        Path source = TOP_LEVEL_CRDS.resolve(chartFile.getFileName());
        if (update) Files.copy(source, chartFile, StandardCopyOption.REPLACE_EXISTING);
        assertThat(Files.readString(chartFile))
            .as(
                "%s differs from %s; run the test with "
                    + "-Dxenvbd.updateChartCrds=true to copy it",
                chartFile, source)
            .isEqualTo(Files.readString(source));
      }
    } else {
      for (Path chartFile : chartFiles) {
        String crd = chartFile.getFileName().toString().replace(".yaml", "");
        Path source = GENERATED_CRDS.resolve(crd + "-v1.yml");
        assertThat(source).as("run mvn process-classes first").exists();
        if (update) Files.copy(source, chartFile, StandardCopyOption.REPLACE_EXISTING);
        // Compared as data: the generator's header comment is no part of the contract.
        assertThat(yaml(Files.readString(chartFile)))
            .as(
                "%s differs from %s; run the test with "
                    + "-Dxenvbd.updateChartCrds=true to copy it",
                chartFile, source)
            .isEqualTo(yaml(Files.readString(source)));
      }
    }
  }

  /** Each value has a comment above it, or sits inside a value documented as a whole ("-- "). */
  @Test
  void everyValueIsCommented() throws IOException {
    List<String> lines = Files.readAllLines(Chart.DIR.resolve("values.yaml"));
    List<String> undocumented = new ArrayList<>();
    Deque<int[]> documentedParents = new ArrayDeque<>(); // {indent, documentedAsWhole 0/1}
    String previous = "";
    String commentStart = "";
    for (int i = 0; i < lines.size(); i++) {
      String line = lines.get(i);
      String trimmed = line.strip();
      if (trimmed.isEmpty()) continue;
      if (trimmed.startsWith("#") || trimmed.startsWith("- ")) {
        if (trimmed.startsWith("#") && !previous.startsWith("#")) commentStart = trimmed;
        previous = trimmed;
        continue;
      }
      int indent = line.length() - line.stripLeading().length();
      while (!documentedParents.isEmpty() && documentedParents.peek()[0] >= indent) {
        documentedParents.pop();
      }
      boolean commented = previous.startsWith("#");
      boolean coveredByParent = documentedParents.stream().anyMatch(p -> p[1] == 1);
      boolean isSection =
          trimmed.endsWith(":")
              && i + 1 < lines.size()
              && !lines.get(i + 1).strip().startsWith("- ");
      if (!commented && !coveredByParent && !isSection) {
        undocumented.add((i + 1) + ": " + trimmed);
      }
      documentedParents.push(
          new int[] {indent, commented && commentStart.startsWith("# --") ? 1 : 0});
      previous = trimmed;
    }
    assertThat(undocumented).as("values without a comment").isEmpty();
  }

  static Map<String, Object> chartYaml() {
    try {
      return yaml(Files.readString(Chart.DIR.resolve("Chart.yaml")));
    } catch (IOException e) {
      throw new UncheckedIOException(e);
    }
  }

  @SuppressWarnings("unchecked")
  static Map<String, Object> yaml(String text) {
    return (Map<String, Object>) new Load(LoadSettings.builder().build()).loadFromString(text);
  }

  static List<Path> list(Path dir) throws IOException {
    try (Stream<Path> s = Files.list(dir)) {
      return s.filter(Files::isRegularFile).sorted().toList();
    }
  }
}
