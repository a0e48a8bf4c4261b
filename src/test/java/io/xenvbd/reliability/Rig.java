package io.xenvbd.reliability;

import static org.awaitility.Awaitility.await;

import io.fabric8.kubernetes.api.model.Condition;
import io.fabric8.kubernetes.client.KubernetesClient;
import io.fabric8.kubernetes.client.KubernetesClientBuilder;
import io.fabric8.kubernetes.client.utils.Serialization;
import io.xenvbd.agent.Agent;
import io.xenvbd.agent.AgentConfig;
import io.xenvbd.api.Conditions;
import io.xenvbd.api.VirtualDisk;
import io.xenvbd.ca.CertificateAuthority;
import io.xenvbd.kube.EmbeddedApiServer;
import io.xenvbd.local.Wiring;
import io.xenvbd.operator.OperatorConfig;
import io.xenvbd.operator.XenvbdOperator;
import java.io.IOException;
import java.io.UncheckedIOException;
import java.net.InetSocketAddress;
import java.net.ServerSocket;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.function.UnaryOperator;
import javax.net.ssl.SSLContext;

/**
 * The whole product wired as in a cluster: the embedded Kubernetes API, the operator (in this JVM,
 * or restartable), agents in this JVM or as their own processes, all over HTTPS with one token.
 */
final class Rig implements AutoCloseable {
  final Path dir;
  final EmbeddedApiServer api;
  final KubernetesClient client;
  final Wiring wiring;
  final String token;
  final Path tokenFile;
  final CertificateAuthority.Issued tls;
  final SSLContext clientSsl;
  final Path kubeconfig;
  XenvbdOperator operator;
  private final List<AutoCloseable> agents = new ArrayList<>();

  Rig(Path dir) {
    this.dir = dir;
    try {
      wiring = Wiring.in(dir);
    } catch (IOException e) {
      throw new UncheckedIOException(e);
    }
    token = wiring.token();
    tokenFile = wiring.tokenFile();
    tls = wiring.tls();
    clientSsl = wiring.clientContext();
    api = EmbeddedApiServer.startWithProjectCrds(0);
    // A shared 2-core host can stall the first admission (CEL compilation) past fabric8's 10 s
    // default.
    client =
        new KubernetesClientBuilder()
            .withConfig(api.clientConfig().withRequestTimeout(60_000).build())
            .build();
    kubeconfig = dir.resolve("kubeconfig");
    api.writeKubeconfig(kubeconfig);
  }

  /** Backoffs short enough for tests, the same code paths as production. */
  static OperatorConfig fastOperator() {
    return OperatorConfig.builder()
        .pollMin(Duration.ofMillis(100))
        .pollMax(Duration.ofSeconds(1))
        .retryMin(Duration.ofMillis(200))
        .retryMax(Duration.ofSeconds(2))
        .pendingRecheck(Duration.ofSeconds(2))
        .readyRecheck(Duration.ofSeconds(3))
        .build();
  }

  Rig startOperator() {
    return startOperator(client);
  }

  Rig startOperator(KubernetesClient through) {
    operator = XenvbdOperator.start(through, fastOperator(), wiring.agentClients());
    return this;
  }

  void stopOperator() {
    if (operator != null) operator.close();
    operator = null;
  }

  /**
   * An agent in this JVM (HTTPS, heartbeat every second), registered with the API through {@code
   * kube}.
   */
  Agent agent(
      String node,
      Path root,
      List<Path> allowed,
      KubernetesClient kube,
      UnaryOperator<AgentConfig.Builder> tweak) {
    AgentConfig.Builder config =
        wiring
            .agent(node, root, allowed)
            .heartbeat(Duration.ofSeconds(1))
            .retryFailedAfter(Duration.ofSeconds(1));
    Agent agent = Agent.start(tweak.apply(config).build(), kube);
    agents.add(agent);
    return agent;
  }

  Agent agent(String node, Path root, List<Path> allowed) {
    return agent(node, root, allowed, client, c -> c);
  }

  /** An agent as its own JVM on a fixed port (so a restart keeps its endpoint). */
  AgentProcess agentProcess(String node, Path root, List<Path> allowed, String... extra) {
    AgentProcess p =
        new AgentProcess(
            node, root, allowed, freePort(), this, dir.resolve(node + ".log"), List.of(extra));
    agents.add(p);
    return p.start(clientSsl);
  }

  /** An agent JVM reached through {@code proxy} (which must relay to {@code port}). */
  AgentProcess agentProcessBehind(String node, Path root, int port, TcpProxy proxy) {
    AgentProcess p =
        new AgentProcess(
            node, root, List.of(), port, proxy.port(), this, dir.resolve(node + ".log"), List.of());
    agents.add(p);
    return p.start(clientSsl);
  }

  static int freePort() {
    try (ServerSocket s = new ServerSocket()) {
      s.setReuseAddress(true);
      s.bind(new InetSocketAddress("127.0.0.1", 0));
      return s.getLocalPort();
    } catch (IOException e) {
      throw new UncheckedIOException(e);
    }
  }

  VirtualDisk apply(String yaml) {
    VirtualDisk disk = Serialization.unmarshal(yaml, VirtualDisk.class);
    if (disk.getMetadata().getNamespace() == null) disk.getMetadata().setNamespace("default");
    return client.resource(disk).create();
  }

  VirtualDisk get(String name) {
    return get("default", name);
  }

  VirtualDisk get(String ns, String name) {
    return client.resources(VirtualDisk.class).inNamespace(ns).withName(name).get();
  }

  static Condition condition(VirtualDisk d, String type) {
    if (d == null || d.getStatus() == null) return null;
    return Conditions.find(d.getStatus().conditions(), type).orElse(null);
  }

  /** "Ready=False/Reason: message", for assertion messages. */
  static String describe(VirtualDisk d) {
    if (d == null) return "(gone)";
    if (d.getStatus() == null) return "(no status)";
    return d.getStatus().phase()
        + " "
        + d.getStatus().conditions().stream()
            .map(
                c ->
                    c.getType() + "=" + c.getStatus() + "/" + c.getReason() + ": " + c.getMessage())
            .toList();
  }

  VirtualDisk awaitReady(String name, Duration within) {
    await()
        .atMost(within)
        .pollInterval(Duration.ofMillis(200))
        .until(
            () -> {
              Condition c = condition(get(name), Conditions.READY);
              return c != null
                  && Conditions.TRUE.equals(c.getStatus())
                  && get(name)
                      .getStatus()
                      .observedGeneration()
                      .equals(get(name).getMetadata().getGeneration());
            });
    return get(name);
  }

  VirtualDisk awaitCondition(
      String name, String type, String status, String reason, Duration within) {
    await()
        .atMost(within)
        .pollInterval(Duration.ofMillis(200))
        .until(
            () -> {
              Condition c = condition(get(name), type);
              return c != null
                  && status.equals(c.getStatus())
                  && (reason == null || reason.equals(c.getReason()));
            });
    return get(name);
  }

  /**
   * Waits until the condition has {@code reason} (whatever its status), or the disk turned Ready
   * instead.
   */
  VirtualDisk awaitConditionIn(
      String ns, String name, String type, String reason, Duration within) {
    await()
        .atMost(within)
        .pollInterval(Duration.ofMillis(200))
        .until(
            () -> {
              Condition c = condition(get(ns, name), type);
              Condition ready = condition(get(ns, name), Conditions.READY);
              return c != null && reason.equals(c.getReason())
                  || ready != null && Conditions.TRUE.equals(ready.getStatus());
            });
    return get(ns, name);
  }

  void delete(String name) {
    client.resources(VirtualDisk.class).inNamespace("default").withName(name).delete();
  }

  void awaitGone(String name, Duration within) {
    await().atMost(within).pollInterval(Duration.ofMillis(200)).until(() -> get(name) == null);
  }

  @Override
  public void close() {
    stopOperator();
    for (AutoCloseable a : agents) {
      try {
        a.close();
      } catch (Exception ignored) {
        // best effort: the next one must still stop
      }
    }
    client.close();
    api.close();
  }
}
