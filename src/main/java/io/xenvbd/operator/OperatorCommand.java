package io.xenvbd.operator;

import io.fabric8.kubernetes.client.KubernetesClient;
import io.xenvbd.client.AgentTrust;
import io.xenvbd.client.HttpAgentClient;
import io.xenvbd.client.NodeTokens;
import io.xenvbd.command.Foreground;
import io.xenvbd.command.KubeconfigOption;
import io.xenvbd.protocol.AgentClientFactory;
import io.xenvbd.protocol.TokenFile;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.LinkedHashSet;
import java.util.List;
import java.util.Set;
import java.util.concurrent.Callable;
import picocli.CommandLine;
import picocli.CommandLine.Command;
import picocli.CommandLine.Option;

/**
 * {@code xenvbd operator}: the controller Deployment. Every flag has an environment-variable twin.
 */
@Command(
    name = "operator",
    mixinStandardHelpOptions = true,
    description =
        "Runs the operator: places each VirtualDisk on a dom0 node, drives that node's agent,"
            + " and reports status, conditions and events.")
public final class OperatorCommand implements Callable<Integer> {

  @Option(
      names = "--namespaces",
      split = ",",
      defaultValue = "${env:XENVBD_NAMESPACES}",
      description = "Namespaces to watch, comma-separated (env XENVBD_NAMESPACES). Default: all.")
  List<String> namespaces = new ArrayList<>();

  @Option(
      names = "--token-file",
      defaultValue = "${env:XENVBD_TOKEN_FILE}",
      description =
          "File holding the bearer token agents accept (env XENVBD_TOKEN_FILE). Required.")
  Path tokenFile;

  @Option(
      names = "--agent-ca",
      defaultValue = "${env:XENVBD_AGENT_CA}",
      description =
          "PEM CA that signed the agents' certificates (env XENVBD_AGENT_CA); with it the token is sent"
              + " only over HTTPS, never to an http:// endpoint. Required unless agents serve plain HTTP.")
  Path agentCa;

  @Option(
      names = "--agent-identity",
      defaultValue = "${env:XENVBD_AGENT_IDENTITY:-node}",
      description =
          "What proves an agent with --agent-ca (env XENVBD_AGENT_IDENTITY, default ${DEFAULT-VALUE}): node"
              + " (its certificate names its node as a DNS name and its endpoint's host) or ca (any certificate the CA"
              + " signed, for one certificate shared by every agent). See docs/operator.md, \"Talking to agents\".")
  String agentIdentity;

  @Option(
      names = "--agent-token-dir",
      defaultValue = "${env:XENVBD_AGENT_TOKEN_DIR}",
      description =
          "Directory of per-node agent tokens, one file named after each node (env XENVBD_AGENT_TOKEN_DIR);"
              + " a node without a file gets --token-file's token. Default: one token for all.")
  Path agentTokenDir;

  @Option(
      names = "--management-port",
      defaultValue = "${env:XENVBD_MANAGEMENT_PORT:-8080}",
      description =
          "Port of /healthz, /readyz and /metrics (env XENVBD_MANAGEMENT_PORT, default ${DEFAULT-VALUE}).")
  int managementPort;

  @Option(
      names = "--leader-election",
      defaultValue = "${env:XENVBD_LEADER_ELECTION:-true}",
      arity = "1",
      description =
          "Take a Lease before acting, for several replicas (env XENVBD_LEADER_ELECTION, default ${DEFAULT-VALUE}).")
  boolean leaderElection;

  @Option(
      names = "--lease-namespace",
      defaultValue = "${env:XENVBD_LEASE_NAMESPACE:-default}",
      description =
          "Namespace of the Lease (env XENVBD_LEASE_NAMESPACE, default ${DEFAULT-VALUE}).")
  String leaseNamespace;

  @Option(
      names = "--lease-name",
      defaultValue = "${env:XENVBD_LEASE_NAME:-xenvbd-operator}",
      description = "Name of the Lease (env XENVBD_LEASE_NAME, default ${DEFAULT-VALUE}).")
  String leaseName;

  @Option(
      names = "--identity",
      defaultValue = "${env:POD_NAME}",
      description = "This replica's name in the Lease (env POD_NAME, default: the hostname).")
  String identity;

  @CommandLine.Mixin KubeconfigOption kube = new KubeconfigOption();

  public static void main(String[] args) {
    System.exit(new CommandLine(new OperatorCommand()).execute(args));
  }

  @Override
  public Integer call() throws Exception {
    OperatorConfig config = toConfig();
    AgentClientFactory agents = agentClients();
    KubernetesClient client = kube.client();
    XenvbdOperator operator = XenvbdOperator.start(client, config, agents);
    Foreground.onStop(
            "xenvbd-operator-shutdown",
            () -> {
              operator.close();
              client.close();
            })
        .await();
    return 0;
  }

  /**
   * The flags as one value. In a Deployment, losing the Lease exits the JVM: the pod restarts as a
   * clean standby, so no in-memory state (placement claims, backoffs) can act beside a new leader.
   */
  OperatorConfig toConfig() {
    if (tokenFile == null)
      fail(
          "--token-file (or XENVBD_TOKEN_FILE) is required: the file holding the agents' bearer token");
    if (managementPort < -1 || managementPort > 65535)
      fail("--management-port " + managementPort + " is out of range 0-65535");
    Set<String> watched = new LinkedHashSet<>();
    for (String ns : namespaces) if (!ns.isBlank()) watched.add(ns.strip());
    return OperatorConfig.builder()
        .namespaces(watched)
        .tokenFile(tokenFile)
        .agentCa(agentCa)
        .managementPort(managementPort)
        .leaderElection(leaderElection)
        .leaseNamespace(leaseNamespace)
        .leaseName(leaseName)
        .identity(identity)
        .exitOnLostLease(true)
        .build();
  }

  /**
   * The agents' clients as the flags say: whose certificate proves a node, and which token each
   * node gets.
   */
  AgentClientFactory agentClients() {
    AgentTrust.Identity identity;
    try {
      identity = AgentTrust.Identity.parse(agentIdentity);
    } catch (IllegalArgumentException e) {
      throw fail(e.getMessage());
    }
    if (agentTokenDir != null && !Files.isDirectory(agentTokenDir)) {
      fail(
          "--agent-token-dir "
              + agentTokenDir
              + " is not a directory: give the directory holding one token file per node");
    }
    String shared = readToken();
    NodeTokens tokens =
        agentTokenDir == null
            ? NodeTokens.shared(shared)
            : NodeTokens.perNode(agentTokenDir, shared);
    return HttpAgentClient.factory(
        tokens, agentCa == null ? null : AgentTrust.fromCa(agentCa, identity));
  }

  private String readToken() {
    try {
      String token = TokenFile.read(tokenFile);
      if (token.isEmpty())
        fail("--token-file " + tokenFile + " is empty: put the agents' bearer token in it");
      return token;
    } catch (IOException e) {
      throw fail("cannot read --token-file " + tokenFile + ": " + e.getMessage());
    }
  }

  private CommandLine.ParameterException fail(String message) {
    throw new CommandLine.ParameterException(new CommandLine(this), message);
  }
}
