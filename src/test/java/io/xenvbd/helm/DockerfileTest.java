package io.xenvbd.helm;

import static org.assertj.core.api.Assertions.assertThat;

import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import javax.xml.parsers.DocumentBuilderFactory;
import javax.xml.xpath.XPathFactory;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;

/**
 * No Docker engine runs here, so the image is checked as text: base image, disk tools, the jar
 * Maven builds, the entrypoint, and a non-root user that matches the chart.
 */
class DockerfileTest {
  static List<String> instructions;

  @BeforeAll
  static void read() throws Exception {
    instructions = instructions(Files.readAllLines(Path.of("Dockerfile")));
  }

  @Test
  void isAJava17RuntimeWithTheDiskToolsTheAgentRuns() {
    // Users build FROM a registry's JRE; container/build-image.sh passes its local base instead.
    assertThat(only("FROM")).isEqualTo("${BASE_IMAGE}");
    assertThat(arg("BASE_IMAGE")).isEqualTo("eclipse-temurin:17-jre");
    String install =
        instructions.stream().filter(i -> i.contains("apt-get install")).findFirst().orElseThrow();
    List<String> words = Arrays.asList(install.split("\\s+"));
    assertThat(words)
        .contains(
            "e2fsprogs",
            "xfsprogs",
            "util-linux",
            "mount",
            "tar",
            "gzip",
            "xz-utils",
            "zstd",
            "coreutils",
            "bubblewrap");
  }

  @Test
  void copiesTheNodeJarMavenBuildsAndRunsIt() throws Exception {
    var pom = DocumentBuilderFactory.newInstance().newDocumentBuilder().parse("pom.xml");
    var xpath = XPathFactory.newInstance().newXPath();
    String finalName = xpath.evaluate("/project/build/finalName", pom);
    String nodeJar =
        xpath
            .evaluate(
                "//plugin[artifactId='maven-shade-plugin']//execution[id='node']"
                    + "/configuration/outputFile",
                pom)
            .replace("${project.build.directory}/", "target/")
            .replace("${project.build.finalName}", finalName);
    assertThat(nodeJar).isEqualTo("target/" + finalName + "-node.jar");

    assertThat(only("COPY")).isEqualTo("${JAR} /opt/xenvbd/xenvbd.jar");
    assertThat(arg("JAR")).isEqualTo(nodeJar);
    assertThat(only("ENTRYPOINT")).isEqualTo("[\"java\",\"-jar\",\"/opt/xenvbd/xenvbd.jar\"]");
    // .dockerignore keeps everything out of the context except that jar.
    assertThat(Files.readAllLines(Path.of(".dockerignore"))).contains("*", "!" + nodeJar);
  }

  @Test
  void runsAsTheNonRootUserTheChartsOperatorUses() throws Exception {
    String user = only("USER");
    String uid = user.split(":")[0];
    assertThat(uid).matches("\\d+").isNotEqualTo("0");
    String values = Files.readString(Chart.DIR.resolve("values.yaml"));
    assertThat(values).contains("runAsUser: " + uid);
  }

  /** The default of {@code ARG name=default}. */
  static String arg(String name) {
    List<String> defaults =
        instructions.stream()
            .filter(i -> i.startsWith("ARG " + name + "="))
            .map(i -> i.substring(("ARG " + name + "=").length()).strip())
            .toList();
    assertThat(defaults).as("ARG %s with a default", name).hasSize(1);
    return defaults.get(0);
  }

  static String only(String keyword) {
    List<String> args =
        instructions.stream()
            .filter(i -> i.startsWith(keyword + " "))
            .map(i -> i.substring(keyword.length() + 1).strip())
            .toList();
    assertThat(args).as("%s instructions", keyword).hasSize(1);
    return args.get(0);
  }

  /** Instructions with comments dropped and backslash continuations joined. */
  static List<String> instructions(List<String> lines) {
    List<String> out = new ArrayList<>();
    StringBuilder current = new StringBuilder();
    for (String line : lines) {
      String t = line.strip();
      if (t.startsWith("#") || (t.isEmpty() && current.isEmpty())) continue;
      boolean continues = t.endsWith("\\");
      current.append(continues ? t.substring(0, t.length() - 1) : t).append(' ');
      if (!continues) {
        out.add(current.toString().strip());
        current.setLength(0);
      }
    }
    return out;
  }
}
