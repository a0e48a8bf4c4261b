package io.xenvbd.bench;

import io.fabric8.kubernetes.client.KubernetesClient;
import io.xenvbd.agent.Agent;
import io.xenvbd.agent.AgentConfig;
import io.xenvbd.api.Dom0Node;
import io.xenvbd.kube.EmbeddedApiServer;
import io.xenvbd.local.Wiring;
import io.xenvbd.operator.OperatorConfig;
import io.xenvbd.operator.XenvbdOperator;
import io.xenvbd.testing.Exec;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;

/**
 * Local mode's composition (embedded API, agents over HTTPS with a bearer token, the operator),
 * wired by the same {@link Wiring} as {@code LocalMode.start}, but with request-counting API
 * clients, any number of agents (one images root each), and the operator optionally in its own JVM
 * so that its heap and RSS can be measured alone.
 */
final class Rig implements AutoCloseable {
  final EmbeddedApiServer api;
  final Clients.RequestCounter operatorRequests = new Clients.RequestCounter();
  final Clients.RequestCounter agentRequests = new Clients.RequestCounter();
  final List<Agent> agents = new ArrayList<>();
  private final KubernetesClient agentClient;
  private KubernetesClient operatorClient;
  private XenvbdOperator operator;
  private OperatorProcess.Handle child;

  private Rig(EmbeddedApiServer api) {
    this.api = api;
    this.agentClient = Clients.client(api, agentRequests);
  }

  static Rig start(Path dir, int agentCount, boolean operatorInOwnJvm) throws Exception {
    return start(dir, agentCount, operatorInOwnJvm, List.of(), null, null);
  }

  /**
   * The operator's configuration: local mode's, or with the poll of a building disk capped (what-if
   * runs).
   */
  static OperatorConfig operatorConfig(Duration pollMax) {
    OperatorConfig c = OperatorConfig.inProcess();
    if (pollMax == null) return c;
    Duration min = c.pollMin().compareTo(pollMax) < 0 ? c.pollMin() : pollMax;
    return c.toBuilder().pollMin(min).pollMax(pollMax).build();
  }

  static Rig start(
      Path dir,
      int agentCount,
      boolean operatorInOwnJvm,
      List<Path> sources,
      Duration pollMax,
      Integer workers)
      throws Exception {
    Rig rig = new Rig(EmbeddedApiServer.startWithProjectCrds(0));
    try {
      Wiring wiring = Wiring.in(dir);
      for (int i = 0; i < agentCount; i++) {
        String node = String.format("bench-node-%02d", i);
        AgentConfig.Builder config = wiring.agent(node, dir.resolve("images-" + i), sources);
        if (workers != null) config.workers(workers);
        rig.agents.add(Agent.start(config.build(), rig.agentClient));
      }
      rig.awaitNodes(agentCount);
      if (operatorInOwnJvm) {
        Path kubeconfig = dir.resolve("kubeconfig");
        rig.api.writeKubeconfig(kubeconfig);
        rig.child =
            OperatorProcess.spawn(dir, kubeconfig, wiring.token(), wiring.tls().caCert(), pollMax);
      } else {
        rig.operatorClient = Clients.client(rig.api, rig.operatorRequests);
        rig.operator =
            XenvbdOperator.start(
                rig.operatorClient, operatorConfig(pollMax), wiring.agentClients());
      }
      return rig;
    } catch (Exception | Error e) {
      rig.close();
      throw e;
    }
  }

  /**
   * Every agent has registered its Dom0Node with an endpoint: the operator can place disks on all
   * of them.
   */
  private void awaitNodes(int count) throws InterruptedException {
    long deadline = System.nanoTime() + Duration.ofSeconds(60).toNanos();
    while (true) {
      long registered =
          agentClient.resources(Dom0Node.class).list().getItems().stream()
              .filter(
                  n ->
                      n.getStatus() != null
                          && n.getStatus().agent() != null
                          && n.getStatus().agent().endpoint() != null)
              .count();
      if (registered >= count) return;
      if (System.nanoTime() > deadline)
        throw new IllegalStateException(registered + " of " + count + " agents registered in 60 s");
      Thread.sleep(100);
    }
  }

  /** The operator's Prometheus text (/metrics), from this JVM or from the operator's own. */
  String operatorMetrics() {
    return operator != null ? operator.metrics().render() : child.metrics();
  }

  OperatorProcess.Handle child() {
    return child;
  }

  /** Sum of every sample of a counter in Prometheus text. */
  static long counter(String metrics, String name) {
    long sum = 0;
    for (String line : metrics.split("\n")) {
      if (line.startsWith(name + "{") || line.startsWith(name + " ")) {
        sum += (long) Double.parseDouble(line.substring(line.lastIndexOf(' ') + 1));
      }
    }
    return sum;
  }

  @Override
  public void close() {
    if (operator != null) operator.close();
    if (child != null) child.close();
    if (operatorClient != null) operatorClient.close();
    for (Agent a : agents) {
      try {
        a.close();
      } catch (RuntimeException ignored) {
        // keep closing the others
      }
    }
    agentClient.close();
    api.close();
  }

  static void removeTree(Path dir) {
    if (Files.exists(dir)) Exec.run(List.of("rm", "-rf", "--one-file-system", dir.toString()));
  }
}
