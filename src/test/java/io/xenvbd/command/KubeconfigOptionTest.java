package io.xenvbd.command;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import io.fabric8.kubernetes.client.Config;
import java.io.File;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import picocli.CommandLine;
import picocli.CommandLine.Command;
import picocli.CommandLine.Mixin;

/**
 * Where the roles find their cluster, as kubectl does. fabric8 reads the {@code KUBECONFIG} list
 * from the system property {@code kubeconfig} first, then from the environment: the tests set the
 * property (a JVM cannot change its own environment), the same code path.
 */
class KubeconfigOptionTest {
  @TempDir Path dir;

  @Command
  static final class Role {
    @Mixin KubeconfigOption kube = new KubeconfigOption();
  }

  @AfterEach
  void clear() {
    System.clearProperty(Config.KUBERNETES_KUBECONFIG_FILE);
  }

  static Config config(String... args) throws IOException {
    Role role = new Role();
    new CommandLine(role).parseArgs(args);
    return role.kube.config();
  }

  /** Names a context; another file defines it, its cluster and user. */
  Path selector() throws IOException {
    return Files.writeString(
        dir.resolve("selector.yaml"), "apiVersion: v1\nkind: Config\ncurrent-context: second\n");
  }

  Path definitions() throws IOException {
    return Files.writeString(
        dir.resolve("definitions.yaml"),
        """
        apiVersion: v1
        kind: Config
        current-context: first
        contexts:
        - name: first
          context: {cluster: c1, user: u, namespace: ns1}
        - name: second
          context: {cluster: c2, user: u, namespace: ns2}
        clusters:
        - name: c1
          cluster: {server: "https://first.example:6443"}
        - name: c2
          cluster: {server: "https://second.example:6443"}
        users:
        - name: u
          user: {token: t}
        """);
  }

  @Test
  void aKubeconfigListIsMergedTheFirstFileToSetAValueWinningAndMissingFilesSkipped()
      throws IOException {
    String list =
        String.join(
            File.pathSeparator,
            dir.resolve("missing.yaml").toString(),
            selector().toString(),
            definitions().toString());
    System.setProperty(Config.KUBERNETES_KUBECONFIG_FILE, list);
    Config c = config();
    assertThat(c.getMasterUrl()).isEqualTo("https://second.example:6443/");
    assertThat(c.getNamespace()).isEqualTo("ns2");
  }

  @Test
  void theFlagReadsOnlyItsFileAsKubectlDoes() throws IOException {
    System.setProperty(
        Config.KUBERNETES_KUBECONFIG_FILE,
        selector() + File.pathSeparator + definitions()); // would select "second"
    Config c = config("--kubeconfig", definitions().toString());
    assertThat(c.getMasterUrl()).isEqualTo("https://first.example:6443/");
    assertThat(c.getNamespace()).isEqualTo("ns1");
  }

  @Test
  void aFlagThatIsNotAFileSaysWhatToGive() {
    assertThatThrownBy(() -> config("--kubeconfig", dir.toString()))
        .hasMessageContaining("is not a file")
        .hasMessageContaining("KUBECONFIG, ~/.kube/config or the pod's service account");
  }

  @Test
  void helpSaysTheOrderKubectlUses() {
    String help = new CommandLine(new Role()).getUsageMessage();
    assertThat(help)
        .contains("KUBECONFIG", "merged", "~/.kube/config", "in-cluster service account");
  }
}
