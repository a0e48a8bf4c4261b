package io.xenvbd.operator;

import io.fabric8.kubernetes.api.model.HasMetadata;
import io.javaoperatorsdk.operator.api.monitoring.Metrics;
import io.javaoperatorsdk.operator.api.reconciler.RetryInfo;
import io.javaoperatorsdk.operator.processing.event.Event;
import io.javaoperatorsdk.operator.processing.event.ResourceID;
import io.xenvbd.metrics.PrometheusText;
import java.util.List;
import java.util.Map;
import java.util.TreeMap;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.atomic.AtomicInteger;
import java.util.concurrent.atomic.LongAdder;
import java.util.function.Supplier;

/**
 * The operator SDK's reconcile counters (through its Metrics hook) and ours, rendered as Prometheus
 * text on /metrics. Plain counters keyed by label values: no metrics library needed for this many.
 */
public final class OperatorMetrics implements Metrics {
  private static final Map<String, String> HELP =
      Map.of(
          "xenvbd_operator_events_received_total",
              "Events (resource changes, timers) the operator SDK received.",
          "xenvbd_operator_reconciles_started_total", "Reconciles started.",
          "xenvbd_operator_reconciles_total", "Reconciles finished, by result.",
          "xenvbd_operator_cleanups_total", "Deletions (finalizer cleanups) completed.",
          "xenvbd_operator_outcomes_total", "Reconcile outcomes, by kind.",
          "xenvbd_operator_agent_calls_total", "Calls to node agents, by call and result.",
          "xenvbd_operator_kube_events_total", "Kubernetes Events recorded, by type and reason.");

  private final Map<String, LongAdder> counters = new ConcurrentHashMap<>();
  private final AtomicInteger running = new AtomicInteger();
  private volatile boolean leader;

  @Override
  public void receivedEvent(Event event, Map<String, Object> metadata) {
    inc("xenvbd_operator_events_received_total", "");
  }

  @Override
  public void reconcileCustomResource(
      HasMetadata resource, RetryInfo retryInfo, Map<String, Object> metadata) {
    inc("xenvbd_operator_reconciles_started_total", "");
  }

  @Override
  public void reconciliationExecutionStarted(HasMetadata resource, Map<String, Object> metadata) {
    running.incrementAndGet();
  }

  @Override
  public void reconciliationExecutionFinished(HasMetadata resource, Map<String, Object> metadata) {
    running.decrementAndGet();
  }

  @Override
  public void finishedReconciliation(HasMetadata resource, Map<String, Object> metadata) {
    inc("xenvbd_operator_reconciles_total", PrometheusText.labels("result", "success"));
  }

  @Override
  public void failedReconciliation(
      HasMetadata resource, Exception exception, Map<String, Object> metadata) {
    inc("xenvbd_operator_reconciles_total", PrometheusText.labels("result", "error"));
  }

  @Override
  public void cleanupDoneFor(ResourceID resourceID, Map<String, Object> metadata) {
    inc("xenvbd_operator_cleanups_total", "");
  }

  void outcome(String kind) {
    inc("xenvbd_operator_outcomes_total", PrometheusText.labels("outcome", kind));
  }

  void agentCall(String call, String result) {
    inc("xenvbd_operator_agent_calls_total", PrometheusText.labels("call", call, "result", result));
  }

  void event(String type, String reason) {
    inc("xenvbd_operator_kube_events_total", PrometheusText.labels("type", type, "reason", reason));
  }

  void leader(boolean value) {
    leader = value;
  }

  public long count(String name, String labels) {
    LongAdder a = counters.get(key(name, labels));
    return a == null ? 0 : a.sum();
  }

  private volatile Supplier<List<String>> credentialProblems = List::of;

  /** Where the credential files that changed but are refused are told (see tls.Rotating). */
  void credentialProblems(Supplier<List<String>> value) {
    credentialProblems = value;
  }

  /** Prometheus text exposition format 0.0.4. */
  public String render() {
    StringBuilder out = new StringBuilder();
    PrometheusText.header(
        out,
        "xenvbd_operator_credential_files_refused",
        "gauge",
        "Credential files (--token-file, --agent-token-dir files, --agent-ca) changed to content the"
            + " operator refuses and so does not use; its log says which file to fix.");
    PrometheusText.sample(
        out, "xenvbd_operator_credential_files_refused", "", credentialProblems.get().size());
    String lastName = "";
    for (var e : new TreeMap<>(counters).entrySet()) {
      String key = e.getKey();
      int brace = key.indexOf('{');
      String name = brace < 0 ? key : key.substring(0, brace);
      if (!name.equals(lastName)) {
        PrometheusText.header(
            out, name, "counter", HELP.getOrDefault(name, "xenvbd operator counter."));
        lastName = name;
      }
      PrometheusText.sample(
          out,
          name,
          brace < 0 ? "" : key.substring(brace + 1, key.length() - 1),
          e.getValue().sum());
    }
    PrometheusText.header(
        out, "xenvbd_operator_reconciles_running", "gauge", "Reconciles running now.");
    PrometheusText.sample(out, "xenvbd_operator_reconciles_running", "", running.get());
    PrometheusText.header(
        out,
        "xenvbd_operator_leader",
        "gauge",
        "1 while this replica holds the leader Lease (always 1 without leader election).");
    PrometheusText.sample(out, "xenvbd_operator_leader", "", leader ? 1 : 0);
    return out.toString();
  }

  private void inc(String name, String labels) {
    counters.computeIfAbsent(key(name, labels), k -> new LongAdder()).increment();
  }

  private static String key(String name, String labels) {
    return labels.isEmpty() ? name : name + "{" + labels + "}";
  }
}
