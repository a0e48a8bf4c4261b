package io.xenvbd.cli;

import static org.assertj.core.api.Assertions.assertThat;

import com.tngtech.archunit.core.domain.Dependency;
import com.tngtech.archunit.core.domain.JavaClass;
import com.tngtech.archunit.core.importer.ClassFileImporter;
import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Set;
import java.util.TreeSet;
import java.util.concurrent.TimeUnit;
import java.util.jar.JarFile;
import java.util.stream.Collectors;
import org.junit.jupiter.api.Test;

/**
 * The node jar, which the operator and agent image runs, carries neither local mode and its
 * embedded Kubernetes API nor the test CA, nor the libraries only they use; it still runs both
 * roles, and it says in one sentence where local mode is. Needs both jars: runs after package
 * (failsafe).
 */
class NodeJarIT {
  /** Left out of the node jar: our local-only packages and the libraries only they use. */
  static final List<String> LEFT_OUT =
      List.of(
          "io/xenvbd/local/",
          "io/xenvbd/kube/",
          "io/xenvbd/ca/",
          "io/fabric8/mockwebserver/",
          "io/fabric8/kubernetes/client/server/mock/",
          "io/vertx/",
          "io/netty/",
          "com/networknt/",
          "dev/cel/",
          "com/google/common/",
          "com/google/protobuf/",
          "org/bouncycastle/");

  static Path jar(String property, String fallback) {
    Path jar = Path.of(System.getProperty(property, fallback));
    assertThat(jar)
        .as("%s: run these tests with `mvn verify` (failsafe), after package", jar)
        .isRegularFile();
    return jar;
  }

  static Path nodeJar() {
    return jar("xenvbd.nodeJar", "target/xenvbd-node.jar");
  }

  static Path fullJar() {
    return jar("xenvbd.jar", "target/xenvbd.jar");
  }

  @Test
  void theNodeJarLeavesOutLocalModeTheEmbeddedApiTheTestCaAndTheirLibrariesWhichTheFullJarHas()
      throws IOException {
    Set<String> node = entries(nodeJar());
    Set<String> full = entries(fullJar());
    for (String prefix : LEFT_OUT) {
      assertThat(node).as("node jar entries under %s", prefix).noneMatch(e -> e.startsWith(prefix));
      assertThat(full)
          .as("full jar entries under %s", prefix)
          .anyMatch(e -> e.startsWith(prefix) && e.endsWith(".class"));
    }
    assertThat(node)
        .contains(
            "io/xenvbd/cli/Main.class",
            "io/xenvbd/operator/OperatorCommand.class",
            "io/xenvbd/agent/AgentCommand.class",
            "io/xenvbd/tls/Tls.class",
            "META-INF/fabric8/virtualdisks.xenvbd.io-v1.yml");
  }

  @Test
  void everyClassOfOursInTheNodeJarFindsWhatItUsesInTheJarOrTheJdk() throws IOException {
    Set<String> entries = entries(nodeJar());
    Set<String> missing = new TreeSet<>();
    int checked = 0;
    try (JarFile jar = new JarFile(nodeJar().toFile())) {
      for (JavaClass c :
          new ClassFileImporter().withImportOption(l -> l.contains("/io/xenvbd/")).importJar(jar)) {
        checked++;
        for (Dependency d : c.getDirectDependenciesFromSelf()) {
          JavaClass target = d.getTargetClass().getBaseComponentType();
          if (target.isPrimitive()
              || entries.contains(target.getName().replace('.', '/') + ".class")) continue;
          if (!inJdk(target.getName())) missing.add(c.getName() + " -> " + target.getName());
        }
      }
    }
    assertThat(checked).as("classes of ours checked").isGreaterThan(100);
    assertThat(missing).as("what our classes in the node jar use but the jar lacks").isEmpty();
  }

  @Test
  void theNodeJarRunsBothRolesAndSaysInOneSentenceWhereLocalModeIs() throws Exception {
    Run operator = java(nodeJar(), "operator", "--help");
    assertThat(operator.exit()).as(operator.out()).isZero();
    assertThat(operator.out()).contains("Usage: xenvbd operator", "--agent-ca");
    Run agent = java(nodeJar(), "agent", "--help");
    assertThat(agent.exit()).as(agent.out()).isZero();
    assertThat(agent.out()).contains("Usage: xenvbd agent", "--images-root");

    for (List<String> args :
        List.of(
            List.of("local"), List.of("local", "--help"), List.of("local", "--dir", "/tmp/x"))) {
      Run local = java(nodeJar(), args.toArray(String[]::new));
      assertThat(local.exit()).as(local.out()).isEqualTo(1);
      assertThat(local.out().strip())
          .isEqualTo(Main.NoLocalMode.MESSAGE)
          .doesNotContain("Usage", "Exception");
    }
    Run full = java(fullJar(), "local", "--help");
    assertThat(full.exit()).as(full.out()).isZero();
    assertThat(full.out()).contains("Usage: xenvbd local", "--allow-source");
  }

  record Run(int exit, String out) {}

  static Run java(Path jar, String... args) throws IOException, InterruptedException {
    List<String> command = new ArrayList<>(List.of("java", "-jar", jar.toString()));
    command.addAll(List.of(args));
    Process p = new ProcessBuilder(command).redirectErrorStream(true).start();
    String out = new String(p.getInputStream().readAllBytes(), StandardCharsets.UTF_8);
    if (!p.waitFor(60, TimeUnit.SECONDS)) {
      p.destroyForcibly();
      throw new AssertionError(String.join(" ", command) + " did not exit within 60 s:\n" + out);
    }
    return new Run(p.exitValue(), out);
  }

  private static Set<String> entries(Path jar) throws IOException {
    try (JarFile file = new JarFile(jar.toFile())) {
      return file.stream().map(e -> e.getName()).collect(Collectors.toSet());
    }
  }

  private static boolean inJdk(String className) {
    try {
      Class.forName(className, false, ClassLoader.getPlatformClassLoader());
      return true;
    } catch (ClassNotFoundException | LinkageError e) {
      return false;
    }
  }
}
