package io.xenvbd.operator;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import java.io.PrintWriter;
import java.io.StringWriter;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Set;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import picocli.CommandLine;

/** The operator's flags, their defaults, and --help listing each environment twin. */
class OperatorCommandTest {

  static OperatorConfig parse(String... args) {
    OperatorCommand command = new OperatorCommand();
    new CommandLine(command).parseArgs(args);
    return command.toConfig();
  }

  @Test
  void flagsBecomeOneConfig() {
    OperatorConfig c =
        parse(
            "--token-file",
            "/etc/xenvbd/token",
            "--agent-ca",
            "/etc/xenvbd/ca.crt",
            "--namespaces",
            "vms,infra",
            "--management-port",
            "9090",
            "--leader-election",
            "false",
            "--lease-namespace",
            "xenvbd",
            "--lease-name",
            "op",
            "--identity",
            "op-0");
    assertThat(c.tokenFile()).isEqualTo(Path.of("/etc/xenvbd/token"));
    assertThat(c.agentCa()).isEqualTo(Path.of("/etc/xenvbd/ca.crt"));
    assertThat(c.namespaces()).isEqualTo(Set.of("vms", "infra"));
    assertThat(c.managementPort()).isEqualTo(9090);
    assertThat(c.leaderElection()).isFalse();
    assertThat(c.leaseNamespace()).isEqualTo("xenvbd");
    assertThat(c.leaseName()).isEqualTo("op");
    assertThat(c.identity()).isEqualTo("op-0");
    assertThat(c.exitOnLostLease()).as("a Deployment replica restarts as a clean standby").isTrue();
  }

  @Test
  void defaultsMatchTheContract() {
    OperatorConfig c = parse("--token-file", "/t");
    assertThat(c.namespaces()).as("all namespaces").isEmpty();
    assertThat(c.managementPort()).isEqualTo(8080);
    assertThat(c.leaderElection()).isTrue();
    assertThat(c.leaseName()).isEqualTo("xenvbd-operator");
    assertThat(c.identity()).isNotBlank();
  }

  @Test
  void agentsMustProveTheirNodeUnlessTheSharedCertificateModeIsChosen(@TempDir Path dir)
      throws Exception {
    Path token = Files.writeString(dir.resolve("token"), "shared\n");
    assertThat(command("--token-file", token.toString()).agentIdentity).isEqualTo("node");
    assertThat(
            command(
                    "--token-file",
                    token.toString(),
                    "--agent-identity",
                    "ca",
                    "--agent-token-dir",
                    dir.toString())
                .agentClients())
        .isNotNull();
    assertThatThrownBy(
            () ->
                command("--token-file", token.toString(), "--agent-identity", "any").agentClients())
        .hasMessageContaining("--agent-identity must be node");
    assertThatThrownBy(
            () ->
                command("--token-file", token.toString(), "--agent-token-dir", token.toString())
                    .agentClients())
        .hasMessageContaining("is not a directory");
  }

  static OperatorCommand command(String... args) {
    OperatorCommand command = new OperatorCommand();
    new CommandLine(command).parseArgs(args);
    return command;
  }

  /** docs/helm.md, "Upgrading": a Deployment that still passes the removed flag must drop it. */
  @Test
  void theRemovedStatusPathFlagIsRefusedByName() {
    assertThatThrownBy(() -> parse("--token-file", "/t", "--use-ssa-for-status", "true"))
        .hasMessageContaining("Unknown option")
        .hasMessageContaining("'--use-ssa-for-status'");
  }

  @Test
  void missingTokenFileSaysWhichFlagToSet() {
    assertThatThrownBy(() -> parse())
        .hasMessageContaining("--token-file (or XENVBD_TOKEN_FILE) is required");
  }

  @Test
  void helpListsEveryEnvironmentTwin() {
    StringWriter out = new StringWriter();
    new CommandLine(new OperatorCommand()).usage(new PrintWriter(out));
    assertThat(out.toString())
        .contains(
            "XENVBD_NAMESPACES",
            "XENVBD_TOKEN_FILE",
            "XENVBD_AGENT_CA",
            "XENVBD_AGENT_IDENTITY",
            "XENVBD_AGENT_TOKEN_DIR",
            "XENVBD_MANAGEMENT_PORT",
            "XENVBD_LEADER_ELECTION",
            "XENVBD_LEASE_NAMESPACE",
            "XENVBD_LEASE_NAME",
            "POD_NAME",
            "KUBECONFIG");
  }
}
