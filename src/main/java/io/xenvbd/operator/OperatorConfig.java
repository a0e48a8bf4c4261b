package io.xenvbd.operator;

import java.nio.file.Path;
import java.time.Duration;
import java.util.Set;

/**
 * Everything the operator reads from its command line and environment, read once.
 *
 * @param namespaces namespaces to watch; empty means all
 * @param tokenFile bearer token file for agents (null when the caller supplies its own AgentClientFactory)
 * @param agentCa PEM CA that signed the agents' certificates; null when agents speak plain HTTP
 * @param managementPort port of /healthz, /readyz and /metrics; 0 picks a free port, -1 disables the server
 * @param leaderElection take a Lease before reconciling, so that only one of several replicas acts
 * @param exitOnLostLease exit the JVM when leadership is lost (production: the pod restarts as a clean
 *     standby and no in-memory placement claim outlives the lease); false for in-process use
 * @param useSsaForStatus patch the primary (finalizer, status) with server-side apply; false uses JSON
 *     patches, which every API server we run on (real and embedded) accepts
 * @param pollMin first delay between polls of a building disk; doubles up to pollMax
 * @param retryMin first delay after an agent error; doubles up to retryMax
 * @param pendingRecheck how often an unplaceable disk is re-examined even when no Dom0Node changed
 * @param readyRecheck how often a Ready disk is checked against its agent and its node's heartbeat (a
 *     dead agent writes nothing, so only a periodic look can notice it)
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
    boolean useSsaForStatus,
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

  /** In-process defaults (local mode, tests): all namespaces, any management port, no leader election. */
  public static OperatorConfig inProcess() {
    return new OperatorConfig(Set.of(), null, null, 0, false, "default", "xenvbd-operator", null,
        false, false, Duration.ofMillis(200), Duration.ofSeconds(5), Duration.ofSeconds(1),
        Duration.ofMinutes(2), Duration.ofSeconds(30), Duration.ofSeconds(60));
  }

  public OperatorConfig withNamespaces(Set<String> value) {
    return new OperatorConfig(value, tokenFile, agentCa, managementPort, leaderElection, leaseNamespace,
        leaseName, identity, exitOnLostLease, useSsaForStatus, pollMin, pollMax, retryMin, retryMax, pendingRecheck, readyRecheck);
  }

  public OperatorConfig withLeaderElection(boolean enabled, String leaseNamespace, String identity) {
    return new OperatorConfig(namespaces, tokenFile, agentCa, managementPort, enabled, leaseNamespace,
        leaseName, identity, exitOnLostLease, useSsaForStatus, pollMin, pollMax, retryMin, retryMax, pendingRecheck, readyRecheck);
  }

  public OperatorConfig withUseSsaForStatus(boolean value) {
    return new OperatorConfig(namespaces, tokenFile, agentCa, managementPort, leaderElection, leaseNamespace,
        leaseName, identity, exitOnLostLease, value, pollMin, pollMax, retryMin, retryMax, pendingRecheck, readyRecheck);
  }

  public OperatorConfig withBackoff(Duration pollMin, Duration pollMax, Duration retryMin, Duration retryMax,
      Duration pendingRecheck,
    Duration readyRecheck) {
    return new OperatorConfig(namespaces, tokenFile, agentCa, managementPort, leaderElection, leaseNamespace,
        leaseName, identity, exitOnLostLease, useSsaForStatus, pollMin, pollMax, retryMin, retryMax, pendingRecheck, readyRecheck);
  }

  static String defaultIdentity() {
    String pod = System.getenv("POD_NAME");
    if (pod != null && !pod.isBlank()) return pod;
    try {
      return java.net.InetAddress.getLocalHost().getHostName();
    } catch (java.io.IOException e) {
      return "xenvbd-operator-" + ProcessHandle.current().pid();
    }
  }
}
