package io.xenvbd.operator;

import static org.awaitility.Awaitility.await;

import io.fabric8.kubernetes.api.model.Condition;
import io.fabric8.kubernetes.api.model.Event;
import io.fabric8.kubernetes.client.dsl.base.PatchContext;
import io.fabric8.kubernetes.client.dsl.base.PatchType;
import io.xenvbd.api.Conditions;
import io.xenvbd.api.Dom0Node;
import io.xenvbd.api.VirtualDisk;
import io.xenvbd.protocol.AgentClientFactory;
import io.xenvbd.protocol.Protocol;
import java.time.Clock;
import java.time.Duration;
import java.util.Comparator;
import java.util.List;
import java.util.Map;
import java.util.concurrent.ConcurrentHashMap;
import java.util.stream.Collectors;

/** Starts the operator against a MockApi and offers the reads a user would do with kubectl. */
final class OperatorHarness implements AutoCloseable {
  final MockApi api;
  final Map<String, FakeNode> fakes = new ConcurrentHashMap<>();
  XenvbdOperator operator;

  OperatorHarness(MockApi api) {
    this.api = api;
  }

  static OperatorConfig fastConfig() {
    return OperatorConfig.builder()
        .pollMin(Duration.ofMillis(50))
        .pollMax(Duration.ofMillis(200))
        .retryMin(Duration.ofMillis(100))
        .retryMax(Duration.ofMillis(400))
        .pendingRecheck(Duration.ofSeconds(2))
        .readyRecheck(Duration.ofSeconds(1))
        .build();
  }

  /** The fakes by endpoint fake://name. */
  AgentClientFactory fakeAgents() {
    return (node, endpoint) -> {
      FakeNode n = fakes.get(endpoint.substring("fake://".length()));
      if (n == null) throw new IllegalStateException("no fake node behind " + endpoint);
      return n;
    };
  }

  FakeNode fake(String name) {
    return fakes.computeIfAbsent(name, FakeNode::new);
  }

  void start(AgentClientFactory agents) {
    start(agents, fastConfig());
  }

  void start(AgentClientFactory agents, OperatorConfig config) {
    operator = XenvbdOperator.start(api.client, config, agents);
  }

  /**
   * An operator that speaks {@code protocol}; {@code agents} should announce the same
   * (RealNodes.clients(protocol)).
   */
  void start(AgentClientFactory agents, Protocol protocol) {
    operator = XenvbdOperator.start(api.client, fastConfig(), agents, Clock.systemUTC(), protocol);
  }

  void stopOperator() {
    if (operator != null) operator.close();
    operator = null;
  }

  /** Creates or replaces a Dom0Node with its status, as its agent would. */
  void putNode(Dom0Node node) {
    var res = api.client.resources(Dom0Node.class).withName(node.getMetadata().getName());
    if (res.get() == null) {
      var copy = new Dom0Node();
      copy.setMetadata(node.getMetadata());
      copy.setSpec(node.getSpec());
      res.create(copy);
    } else {
      res.edit(
          cur -> {
            cur.setSpec(node.getSpec());
            return cur;
          });
    }
    res.editStatus(
        cur -> {
          cur.setStatus(node.getStatus());
          return cur;
        });
  }

  VirtualDisk create(VirtualDisk disk) {
    return api.client.resource(disk).create();
  }

  VirtualDisk get(String ns, String name) {
    return api.client.resources(VirtualDisk.class).inNamespace(ns).withName(name).get();
  }

  Condition condition(VirtualDisk d, String type) {
    return d == null || d.getStatus() == null
        ? null
        : Conditions.find(d.getStatus().conditions(), type).orElse(null);
  }

  VirtualDisk awaitCondition(String ns, String name, String type, String status, String reason) {
    await()
        .atMost(Duration.ofSeconds(20))
        .pollInterval(Duration.ofMillis(50))
        .until(
            () -> {
              Condition c = condition(get(ns, name), type);
              return c != null
                  && status.equals(c.getStatus())
                  && (reason == null || reason.equals(c.getReason()));
            });
    return get(ns, name);
  }

  VirtualDisk awaitReady(String ns, String name) {
    return awaitCondition(ns, name, Conditions.READY, Conditions.TRUE, null);
  }

  /** Events about the object, oldest first, as "Type Reason: message". */
  List<String> events(String ns, String name) {
    return api.client.v1().events().inNamespace(ns).list().getItems().stream()
        .filter(e -> name.equals(e.getInvolvedObject().getName()))
        .sorted(
            Comparator.comparing(Event::getLastTimestamp)
                .thenComparing(e -> e.getMetadata().getName()))
        .map(e -> e.getType() + " " + e.getReason() + ": " + e.getMessage())
        .collect(Collectors.toList());
  }

  List<String> eventReasons(String ns, String name) {
    return api.client.v1().events().inNamespace(ns).list().getItems().stream()
        .filter(e -> name.equals(e.getInvolvedObject().getName()))
        .map(Event::getReason)
        .collect(Collectors.toList());
  }

  /** Stops the operator and empties the API server for the next test. */
  @Override
  public void close() {
    stopOperator();
    for (VirtualDisk d :
        api.client.resources(VirtualDisk.class).inAnyNamespace().list().getItems()) {
      var res =
          api.client
              .resources(VirtualDisk.class)
              .inNamespace(d.getMetadata().getNamespace())
              .withName(d.getMetadata().getName());
      // a merge patch carries no resourceVersion: a last write of the stopping operator cannot make
      // it conflict
      res.patch(PatchContext.of(PatchType.JSON_MERGE), "{\"metadata\":{\"finalizers\":null}}");
      res.delete();
    }
    api.client.resources(Dom0Node.class).delete();
    api.client.v1().events().inAnyNamespace().delete();
    fakes.clear();
  }
}
