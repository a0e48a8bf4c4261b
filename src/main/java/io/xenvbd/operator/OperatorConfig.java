package io.xenvbd.operator;

import java.io.IOException;
import java.net.InetAddress;
import java.nio.file.Path;
import java.time.Duration;
import java.util.Set;

/**
 * Everything the operator reads from its command line and environment, read once. Built with {@link
 * #builder} (named settings, the in-process defaults in one place).
 *
 * @param namespaces namespaces to watch; empty means all
 * @param tokenFile bearer token file for agents (null when the caller supplies its own
 *     AgentClientFactory)
 * @param agentCa PEM CA that signed the agents' certificates; null when agents speak plain HTTP
 * @param managementPort port of /healthz, /readyz and /metrics; 0 picks a free port, -1 disables
 *     the server
 * @param leaderElection take a Lease before reconciling, so that only one of several replicas acts
 * @param exitOnLostLease exit the JVM when leadership is lost (production: the pod restarts as a
 *     clean standby and no in-memory placement claim outlives the lease); false for in-process use
 * @param pollMin first delay between polls of a building disk; doubles up to pollMax
 * @param retryMin first delay after an agent error; doubles up to retryMax
 * @param pendingRecheck how often an unplaceable disk is re-examined even when no Dom0Node changed
 * @param readyRecheck how often a Ready disk is checked against its agent and its node's heartbeat
 *     (a dead agent writes nothing, so only a periodic look can notice it)
 */
public record OperatorConfig(
    Set<String> namespaces,
    Path tokenFile,
    Path agentCa,
    int managementPort,
    boolean leaderElection,
    String leaseNamespace,
    String leaseName,
    String identity,
    boolean exitOnLostLease,
    Duration pollMin,
    Duration pollMax,
    Duration retryMin,
    Duration retryMax,
    Duration pendingRecheck,
    Duration readyRecheck) {

  public OperatorConfig {
    namespaces = namespaces == null ? Set.of() : Set.copyOf(namespaces);
    if (leaseNamespace == null || leaseNamespace.isBlank()) leaseNamespace = "default";
    if (leaseName == null || leaseName.isBlank()) leaseName = "xenvbd-operator";
    if (identity == null || identity.isBlank()) identity = defaultIdentity();
  }

  /**
   * In-process defaults (local mode, tests): all namespaces, any management port, no leader
   * election.
   */
  public static OperatorConfig inProcess() {
    return builder().build();
  }

  /** The in-process defaults, to change by name; {@link Builder} documents each. */
  public static Builder builder() {
    return new Builder();
  }

  /** A builder holding this configuration, to change a few settings by name. */
  public Builder toBuilder() {
    return builder()
        .namespaces(namespaces)
        .tokenFile(tokenFile)
        .agentCa(agentCa)
        .managementPort(managementPort)
        .leaderElection(leaderElection)
        .leaseNamespace(leaseNamespace)
        .leaseName(leaseName)
        .identity(identity)
        .exitOnLostLease(exitOnLostLease)
        .pollMin(pollMin)
        .pollMax(pollMax)
        .retryMin(retryMin)
        .retryMax(retryMax)
        .pendingRecheck(pendingRecheck)
        .readyRecheck(readyRecheck);
  }

  /**
   * Named settings; each field's initial value is its in-process default, the only place defaults
   * live.
   */
  public static final class Builder {
    private Set<String> namespaces = Set.of();
    private Path tokenFile;
    private Path agentCa;
    private int managementPort = 0;
    private boolean leaderElection = false;
    private String leaseNamespace = "default";
    private String leaseName = "xenvbd-operator";
    private String identity;
    private boolean exitOnLostLease = false;
    private Duration pollMin = Duration.ofMillis(200);
    private Duration pollMax = Duration.ofSeconds(5);
    private Duration retryMin = Duration.ofSeconds(1);
    private Duration retryMax = Duration.ofMinutes(2);
    private Duration pendingRecheck = Duration.ofSeconds(30);
    private Duration readyRecheck = Duration.ofSeconds(60);

    private Builder() {}

    public Builder namespaces(Set<String> value) {
      namespaces = value;
      return this;
    }

    public Builder tokenFile(Path value) {
      tokenFile = value;
      return this;
    }

    public Builder agentCa(Path value) {
      agentCa = value;
      return this;
    }

    public Builder managementPort(int value) {
      managementPort = value;
      return this;
    }

    public Builder leaderElection(boolean value) {
      leaderElection = value;
      return this;
    }

    public Builder leaseNamespace(String value) {
      leaseNamespace = value;
      return this;
    }

    public Builder leaseName(String value) {
      leaseName = value;
      return this;
    }

    /** This replica's name in the Lease; null: POD_NAME, else the hostname. */
    public Builder identity(String value) {
      identity = value;
      return this;
    }

    public Builder exitOnLostLease(boolean value) {
      exitOnLostLease = value;
      return this;
    }

    public Builder pollMin(Duration value) {
      pollMin = value;
      return this;
    }

    public Builder pollMax(Duration value) {
      pollMax = value;
      return this;
    }

    public Builder retryMin(Duration value) {
      retryMin = value;
      return this;
    }

    public Builder retryMax(Duration value) {
      retryMax = value;
      return this;
    }

    public Builder pendingRecheck(Duration value) {
      pendingRecheck = value;
      return this;
    }

    public Builder readyRecheck(Duration value) {
      readyRecheck = value;
      return this;
    }

    public OperatorConfig build() {
      return new OperatorConfig(
          namespaces,
          tokenFile,
          agentCa,
          managementPort,
          leaderElection,
          leaseNamespace,
          leaseName,
          identity,
          exitOnLostLease,
          pollMin,
          pollMax,
          retryMin,
          retryMax,
          pendingRecheck,
          readyRecheck);
    }
  }

  static String defaultIdentity() {
    String pod = System.getenv("POD_NAME");
    if (pod != null && !pod.isBlank()) return pod;
    try {
      return InetAddress.getLocalHost().getHostName();
    } catch (IOException e) {
      return "xenvbd-operator-" + ProcessHandle.current().pid();
    }
  }
}
