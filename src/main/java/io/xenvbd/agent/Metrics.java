package io.xenvbd.agent;

import io.xenvbd.disk.LoopStatus;
import io.xenvbd.disk.StorageInfo;
import io.xenvbd.metrics.PrometheusText;
import java.time.Duration;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.TreeMap;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.atomic.AtomicLongArray;
import java.util.concurrent.atomic.DoubleAdder;
import java.util.concurrent.atomic.LongAdder;
import java.util.function.Supplier;

/**
 * The agent's Prometheus metrics, written in the text exposition format (0.0.4) by hand: a handful
 * of counters and one histogram do not justify a metrics library on every dom0.
 */
final class Metrics {
  static final String CONTENT_TYPE = PrometheusText.CONTENT_TYPE;
  private static final double[] BUCKETS = {0.1, 0.5, 1, 2.5, 5, 10, 30, 60, 120, 300, 600, 1800};

  /**
   * The {@code method} and {@code code} label value for anything outside the known sets (a request
   * left unanswered: code).
   */
  static final String OTHER = "other";

  /** RFC 9110's methods and PATCH. */
  static final Set<String> METHODS =
      Set.of("GET", "HEAD", "POST", "PUT", "DELETE", "CONNECT", "OPTIONS", "TRACE", "PATCH");

  /** Every status the agent answers. */
  static final Set<Integer> CODES =
      Set.of(200, 202, 204, 400, 401, 403, 404, 405, 409, 413, 500, 503, 507);

  private final Map<String, LongAdder> operations = new ConcurrentHashMap<>();
  private final Map<String, Histogram> durations = new ConcurrentHashMap<>();
  private final Map<String, LongAdder> requests = new ConcurrentHashMap<>();
  private final LongAdder populatedBytes = new LongAdder();

  /** kind: build, resize or delete; result: success or the error code. */
  void operation(String kind, String result, Duration took) {
    operations
        .computeIfAbsent(labels("kind", kind, "result", result), k -> new LongAdder())
        .increment();
    durations
        .computeIfAbsent(labels("kind", kind), k -> new Histogram())
        .observe(took.toNanos() / 1e9);
  }

  void populated(long bytes) {
    if (bytes > 0) populatedBytes.add(bytes);
  }

  /**
   * Label values come from fixed sets, whatever a client sends: every distinct value would be a new
   * series kept for the life of the process, so a client inventing methods could grow the agent's
   * memory and every scrape without end.
   */
  void request(String method, int status) {
    String m = METHODS.contains(method) ? method : OTHER;
    String code = CODES.contains(status) ? String.valueOf(status) : OTHER;
    requests.computeIfAbsent(labels("method", m, "code", code), k -> new LongAdder()).increment();
  }

  private volatile Supplier<List<String>> credentialProblems = List::of;

  /** Where the credential files that were changed but are refused are told (see Rotating). */
  void credentialProblems(Supplier<List<String>> value) {
    credentialProblems = value;
  }

  /** Gauges are read at scrape time so they never go stale. */
  String render(LoopStatus loops, StorageInfo storage, int running, int queued) {
    StringBuilder out = new StringBuilder();
    header(
        out,
        "xenvbd_agent_credential_files_refused",
        "gauge",
        "Credential files (token, TLS certificate and key, peer CA) changed to content the agent refuses"
            + " and so does not use; its log says which file to fix.");
    line(out, "xenvbd_agent_credential_files_refused", "", credentialProblems.get().size());
    header(
        out,
        "xenvbd_agent_operations_total",
        "counter",
        "Disk operations finished, by kind and result (success or error code).");
    new TreeMap<>(operations)
        .forEach((l, v) -> line(out, "xenvbd_agent_operations_total", l, v.sum()));
    header(
        out,
        "xenvbd_agent_operation_duration_seconds",
        "histogram",
        "Duration of disk operations, by kind.");
    new TreeMap<>(durations)
        .forEach((l, h) -> h.write(out, "xenvbd_agent_operation_duration_seconds", l));
    header(
        out,
        "xenvbd_agent_populated_bytes_total",
        "counter",
        "Bytes copied into images by populate.");
    line(out, "xenvbd_agent_populated_bytes_total", "", populatedBytes.sum());
    header(
        out,
        "xenvbd_agent_http_requests_total",
        "counter",
        "HTTP requests, by method and status code (other: any other method or status, or no answer).");
    new TreeMap<>(requests)
        .forEach((l, v) -> line(out, "xenvbd_agent_http_requests_total", l, v.sum()));
    header(out, "xenvbd_agent_operations_running", "gauge", "Disk operations running now.");
    line(out, "xenvbd_agent_operations_running", "", running);
    header(out, "xenvbd_agent_operations_queued", "gauge", "Disk operations waiting for a worker.");
    line(out, "xenvbd_agent_operations_queued", "", queued);
    header(
        out,
        "xenvbd_agent_loop_devices_in_use",
        "gauge",
        "Loop devices attached to a file on this node.");
    line(out, "xenvbd_agent_loop_devices_in_use", "", loops.inUse().size());
    header(
        out,
        "xenvbd_agent_loop_devices_max",
        "gauge",
        "The node's loop device limit (max_loop); 0 means unlimited.");
    line(out, "xenvbd_agent_loop_devices_max", "", loops.max());
    header(
        out,
        "xenvbd_agent_images_root_bytes",
        "gauge",
        "The images root's filesystem: capacity, available, allocated by images, promised (apparent sizes).");
    line(
        out, "xenvbd_agent_images_root_bytes", labels("kind", "capacity"), storage.capacityBytes());
    line(
        out,
        "xenvbd_agent_images_root_bytes",
        labels("kind", "available"),
        storage.availableBytes());
    line(
        out,
        "xenvbd_agent_images_root_bytes",
        labels("kind", "allocated"),
        storage.allocatedBytes());
    line(
        out, "xenvbd_agent_images_root_bytes", labels("kind", "promised"), storage.promisedBytes());
    return out.toString();
  }

  private static void header(StringBuilder out, String name, String type, String help) {
    PrometheusText.header(out, name, type, help);
  }

  private static void line(StringBuilder out, String name, String labels, double value) {
    PrometheusText.sample(out, name, labels, value);
  }

  static String labels(String... pairs) {
    return PrometheusText.labels(pairs);
  }

  private static final class Histogram {
    private final AtomicLongArray counts = new AtomicLongArray(BUCKETS.length);
    private final LongAdder count = new LongAdder();
    private final DoubleAdder sum = new DoubleAdder();

    void observe(double seconds) {
      for (int i = 0; i < BUCKETS.length; i++) {
        if (seconds <= BUCKETS[i]) counts.incrementAndGet(i);
      }
      count.increment();
      sum.add(seconds);
    }

    void write(StringBuilder out, String name, String labels) {
      for (int i = 0; i < BUCKETS.length; i++) {
        line(out, name + "_bucket", labels + ",le=\"" + BUCKETS[i] + "\"", counts.get(i));
      }
      line(out, name + "_bucket", labels + ",le=\"+Inf\"", count.sum());
      line(out, name + "_sum", labels, sum.sum());
      line(out, name + "_count", labels, count.sum());
    }
  }
}
