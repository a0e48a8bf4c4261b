package io.xenvbd.operator;

import io.fabric8.kubernetes.api.model.HasMetadata;
import io.javaoperatorsdk.operator.api.monitoring.Metrics;
import io.javaoperatorsdk.operator.api.reconciler.RetryInfo;
import io.javaoperatorsdk.operator.processing.event.Event;
import io.javaoperatorsdk.operator.processing.event.ResourceID;
import java.util.Map;
import java.util.TreeMap;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.atomic.AtomicInteger;
import java.util.concurrent.atomic.LongAdder;

/**
 * The operator SDK's reconcile counters (through its Metrics hook) and ours, rendered as Prometheus
 * text on /metrics. Plain counters keyed by label values: no metrics library needed for this many.
 */
public final class OperatorMetrics implements Metrics {
  private final Map<String, LongAdder> counters = new ConcurrentHashMap<>();
  private final AtomicInteger running = new AtomicInteger();
  private volatile boolean leader;

  @Override
  public void receivedEvent(Event event, Map<String, Object> metadata) {
    inc("xenvbd_operator_events_received_total", "");
  }

  @Override
  public void reconcileCustomResource(HasMetadata resource, RetryInfo retryInfo, Map<String, Object> metadata) {
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
    inc("xenvbd_operator_reconciles_total", "result=\"success\"");
  }

  @Override
  public void failedReconciliation(HasMetadata resource, Exception exception, Map<String, Object> metadata) {
    inc("xenvbd_operator_reconciles_total", "result=\"error\"");
  }

  @Override
  public void cleanupDoneFor(ResourceID resourceID, Map<String, Object> metadata) {
    inc("xenvbd_operator_cleanups_total", "");
  }

  void outcome(String kind) {
    inc("xenvbd_operator_outcomes_total", "outcome=\"" + kind + "\"");
  }

  void agentCall(String call, String result) {
    inc("xenvbd_operator_agent_calls_total", "call=\"" + call + "\",result=\"" + result + "\"");
  }

  void event(String type, String reason) {
    inc("xenvbd_operator_kube_events_total", "type=\"" + type + "\",reason=\"" + reason + "\"");
  }

  void leader(boolean value) {
    leader = value;
  }

  public long count(String name, String labels) {
    LongAdder a = counters.get(key(name, labels));
    return a == null ? 0 : a.sum();
  }

  /** Prometheus text exposition format 0.0.4. */
  public String render() {
    StringBuilder out = new StringBuilder();
    String lastName = "";
    for (var e : new TreeMap<>(counters).entrySet()) {
      String name = e.getKey().contains("{") ? e.getKey().substring(0, e.getKey().indexOf('{')) : e.getKey();
      if (!name.equals(lastName)) {
        out.append("# TYPE ").append(name).append(" counter\n");
        lastName = name;
      }
      out.append(e.getKey()).append(' ').append(e.getValue().sum()).append('\n');
    }
    out.append("# TYPE xenvbd_operator_reconciles_running gauge\nxenvbd_operator_reconciles_running ")
        .append(running.get()).append('\n');
    out.append("# TYPE xenvbd_operator_leader gauge\nxenvbd_operator_leader ").append(leader ? 1 : 0).append('\n');
    return out.toString();
  }

  private void inc(String name, String labels) {
    counters.computeIfAbsent(key(name, labels), k -> new LongAdder()).increment();
  }

  private static String key(String name, String labels) {
    return labels.isEmpty() ? name : name + "{" + labels + "}";
  }
}
