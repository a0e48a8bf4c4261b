package io.xenvbd.helm;

import static org.awaitility.Awaitility.await;

import io.fabric8.kubernetes.api.model.Condition;
import io.fabric8.kubernetes.client.KubernetesClient;
import io.xenvbd.agent.Agent;
import io.xenvbd.api.Conditions;
import io.xenvbd.api.Dom0Node;
import io.xenvbd.api.VirtualDisk;
import io.xenvbd.local.Wiring;
import io.xenvbd.operator.OperatorConfig;
import io.xenvbd.operator.XenvbdOperator;
import io.xenvbd.testing.Host;
import java.io.IOException;
import java.io.UncheckedIOException;
import java.net.URI;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.List;
import java.util.Set;

/**
 * One agent and one operator in this JVM for the upgrade test, confined to its namespace and its
 * own node, each stopped and started again as a rollout replaces a pod: the agent on the same
 * images root with the same identity, the operator with nothing in memory.
 */
final class UpgradeRig implements AutoCloseable {
  private final KubernetesClient client;
  private final String namespace;
  private final String node;
  private final Wiring wiring;
  private final Path images;
  private Agent agent;
  private XenvbdOperator operator;

  UpgradeRig(Path dir, KubernetesClient client, String namespace) throws IOException {
    this.client = client;
    this.namespace = namespace;
    this.node = namespace + "-node";
    this.wiring = Wiring.in(dir.resolve("wiring"));
    this.images = Files.createDirectories(dir.resolve("images"));
  }

  void startAgent() {
    agent =
        Agent.start(
            wiring.agent(node, images, List.of()).heartbeat(Duration.ofSeconds(2)).build(), client);
  }

  void stopAgent() {
    if (agent != null) agent.close();
    agent = null;
  }

  void startOperator() {
    operator =
        XenvbdOperator.start(
            client,
            OperatorConfig.builder()
                .namespaces(Set.of(namespace))
                .managementPort(-1)
                .pollMin(Duration.ofMillis(50))
                .pollMax(Duration.ofMillis(200))
                .retryMin(Duration.ofMillis(100))
                .retryMax(Duration.ofMillis(400))
                .readyRecheck(Duration.ofSeconds(1))
                .build(),
            wiring.agentClients());
  }

  void stopOperator() {
    if (operator != null) operator.close();
    operator = null;
  }

  /** {@code kubectl apply} of a disk on this rig's node, as a user writes it. */
  void create(String name, String size, String filesystem, String reclaimPolicy) {
    String yaml =
        """
        apiVersion: xenvbd.io/v1alpha1
        kind: VirtualDisk
        metadata: {name: %s, namespace: %s}
        spec:
          nodeName: %s
          size: %s
          filesystem: %s
          reclaimPolicy: %s
        """
            .formatted(name, namespace, node, size, filesystem, reclaimPolicy);
    client.resource(parse(yaml)).create();
  }

  private VirtualDisk parse(String yaml) {
    return client.getKubernetesSerialization().unmarshal(yaml, VirtualDisk.class);
  }

  VirtualDisk get(String name) {
    return client.resources(VirtualDisk.class).inNamespace(namespace).withName(name).get();
  }

  static Condition ready(VirtualDisk d) {
    return d == null || d.getStatus() == null
        ? null
        : Conditions.find(d.getStatus().conditions(), Conditions.READY).orElse(null);
  }

  VirtualDisk awaitReady(String name) {
    await()
        .atMost(Duration.ofSeconds(60))
        .pollInterval(Duration.ofMillis(200))
        .until(
            () -> {
              Condition c = ready(get(name));
              return c != null && Conditions.TRUE.equals(c.getStatus());
            });
    return get(name);
  }

  /** The inode of a disk's image: the same number means the same file, never rebuilt. */
  long inode(String name) {
    try {
      return ((Number) Files.getAttribute(Path.of(get(name).getStatus().path()), "unix:ino"))
          .longValue();
    } catch (IOException e) {
      throw new UncheckedIOException(e);
    }
  }

  /** Builds the running agent counted since it started (its Prometheus counter). */
  long builds() throws Exception {
    HttpClient http = HttpClient.newBuilder().sslContext(wiring.clientContext()).build();
    String body =
        http.send(
                HttpRequest.newBuilder(URI.create(agent.endpoint() + "/metrics"))
                    .header("Authorization", "Bearer " + wiring.token())
                    .build(),
                HttpResponse.BodyHandlers.ofString())
            .body();
    return body.lines()
        .filter(l -> l.startsWith("xenvbd_agent_operations_total{") && l.contains("kind=\"build\""))
        .mapToLong(l -> (long) Double.parseDouble(l.substring(l.lastIndexOf(' ') + 1)))
        .sum();
  }

  /** Deletes every disk of the namespace and waits until they are gone. */
  void deleteAll() {
    client.resources(VirtualDisk.class).inNamespace(namespace).delete();
    await()
        .atMost(Duration.ofSeconds(60))
        .until(
            () ->
                client
                    .resources(VirtualDisk.class)
                    .inNamespace(namespace)
                    .list()
                    .getItems()
                    .isEmpty());
  }

  @Override
  public void close() {
    stopOperator();
    stopAgent();
    // Nothing of this rig is left for the classes after it: no node to place on, no loop device.
    client.resources(Dom0Node.class).withName(node).delete();
    Host.releaseAll(images);
  }
}
