package io.xenvbd.metrics;

import java.util.Locale;

/**
 * The Prometheus text exposition format (0.0.4), which both the agent's and the operator's {@code
 * /metrics} speak: a handful of counters and gauges do not justify a metrics library.
 */
public final class PrometheusText {
  private PrometheusText() {}

  public static final String CONTENT_TYPE = "text/plain; version=0.0.4; charset=utf-8";

  public static void header(StringBuilder out, String name, String type, String help) {
    out.append("# HELP ").append(name).append(' ').append(help).append('\n');
    out.append("# TYPE ").append(name).append(' ').append(type).append('\n');
  }

  /** One sample; {@code labels} as made by {@link #labels}, or empty. */
  public static void sample(StringBuilder out, String name, String labels, double value) {
    out.append(name);
    if (!labels.isEmpty()) out.append('{').append(labels).append('}');
    out.append(' ').append(format(value)).append('\n');
  }

  /** {@code a="x",b="y"}, with values escaped as the format requires. */
  public static String labels(String... pairs) {
    StringBuilder out = new StringBuilder();
    for (int i = 0; i < pairs.length; i += 2) {
      if (i > 0) out.append(',');
      String value = pairs[i + 1].replace("\\", "\\\\").replace("\"", "\\\"").replace("\n", "\\n");
      out.append(pairs[i]).append("=\"").append(value).append('"');
    }
    return out.toString();
  }

  static String format(double value) {
    if (Double.isInfinite(value)) return value > 0 ? "+Inf" : "-Inf";
    if (value == Math.rint(value) && Math.abs(value) < 1e15) return String.valueOf((long) value);
    return String.format(Locale.ROOT, "%s", value);
  }
}
