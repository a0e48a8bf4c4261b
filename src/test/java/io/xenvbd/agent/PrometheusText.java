package io.xenvbd.agent;

import java.util.HashMap;
import java.util.LinkedHashMap;
import java.util.Map;
import java.util.TreeMap;
import java.util.regex.Matcher;
import java.util.regex.Pattern;

/**
 * A strict parser of the Prometheus text exposition format 0.0.4, for tests: every sample belongs
 * to a family declared by a TYPE line before it, names and labels are well-formed, values are
 * numbers, no sample repeats, histogram buckets are cumulative and end with +Inf equal to _count.
 */
final class PrometheusText {
  private static final Pattern NAME = Pattern.compile("[a-zA-Z_:][a-zA-Z0-9_:]*");
  private static final Pattern TYPE =
      Pattern.compile("# TYPE (" + NAME + ") (counter|gauge|histogram|summary|untyped)");
  private static final Pattern HELP = Pattern.compile("# HELP (" + NAME + ") .*");
  private static final Pattern SAMPLE =
      Pattern.compile("(" + NAME + ")(\\{(.*)\\})? (\\S+)( -?[0-9]+)?");
  private static final Pattern LABEL =
      Pattern.compile("([a-zA-Z_][a-zA-Z0-9_]*)=\"((?:[^\"\\\\\\n]|\\\\[\\\\\"n])*)\"(,|$)");

  /** Sample key: {@code name{a="x",b="y"}} with labels sorted, or just {@code name}. */
  final Map<String, Double> samples = new LinkedHashMap<>();

  final Map<String, String> types = new HashMap<>();

  static PrometheusText parse(String text) {
    if (!text.endsWith("\n")) throw new AssertionError("exposition must end with a newline");
    PrometheusText p = new PrometheusText();
    int n = 0;
    for (String line : text.split("\n")) {
      n++;
      if (line.isEmpty()) continue;
      if (line.startsWith("#")) {
        Matcher t = TYPE.matcher(line);
        if (t.matches()) {
          if (p.types.put(t.group(1), t.group(2)) != null)
            throw new AssertionError("line " + n + ": second TYPE for " + t.group(1));
          if (p.samples.keySet().stream().anyMatch(k -> family(k, p).equals(t.group(1)))) {
            throw new AssertionError("line " + n + ": TYPE after samples of " + t.group(1));
          }
        } else if (line.startsWith("# HELP") && !HELP.matcher(line).matches()) {
          throw new AssertionError("line " + n + ": malformed HELP: " + line);
        }
        continue;
      }
      Matcher s = SAMPLE.matcher(line);
      if (!s.matches()) throw new AssertionError("line " + n + ": not a sample: " + line);
      Map<String, String> labels = new TreeMap<>();
      if (s.group(3) != null && !s.group(3).isEmpty()) {
        Matcher l = LABEL.matcher(s.group(3));
        int end = 0;
        while (l.find() && l.start() == end) {
          if (labels.put(l.group(1), l.group(2)) != null)
            throw new AssertionError("line " + n + ": repeated label " + l.group(1));
          end = l.end();
        }
        if (end != s.group(3).length())
          throw new AssertionError("line " + n + ": malformed labels: " + s.group(3));
      }
      double value = number(s.group(4), n);
      String key = key(s.group(1), labels);
      if (p.samples.put(key, value) != null)
        throw new AssertionError("line " + n + ": repeated sample " + key);
      String family = family(key, p);
      if (!p.types.containsKey(family))
        throw new AssertionError("line " + n + ": sample " + key + " has no TYPE before it");
      if (p.types.get(family).equals("histogram")
          && s.group(1).endsWith("_bucket")
          && !labels.containsKey("le")) {
        throw new AssertionError("line " + n + ": bucket without le: " + key);
      }
    }
    p.checkHistograms();
    return p;
  }

  double value(String name, String... labelPairs) {
    Map<String, String> labels = new TreeMap<>();
    for (int i = 0; i < labelPairs.length; i += 2) labels.put(labelPairs[i], labelPairs[i + 1]);
    return samples.getOrDefault(key(name, labels), 0.0);
  }

  private static String key(String name, Map<String, String> labels) {
    if (labels.isEmpty()) return name;
    StringBuilder b = new StringBuilder(name).append('{');
    labels.forEach((k, v) -> b.append(k).append("=\"").append(v).append("\","));
    b.setLength(b.length() - 1);
    return b.append('}').toString();
  }

  private static String family(String key, PrometheusText p) {
    String name = key.contains("{") ? key.substring(0, key.indexOf('{')) : key;
    for (String suffix : new String[] {"_bucket", "_sum", "_count"}) {
      String base =
          name.endsWith(suffix) ? name.substring(0, name.length() - suffix.length()) : null;
      if (base != null && "histogram".equals(p.types.get(base))) return base;
    }
    return name;
  }

  private static double number(String text, int line) {
    switch (text) {
      case "+Inf":
        return Double.POSITIVE_INFINITY;
      case "-Inf":
        return Double.NEGATIVE_INFINITY;
      case "NaN":
        return Double.NaN;
      default:
        try {
          return Double.parseDouble(text);
        } catch (NumberFormatException e) {
          throw new AssertionError("line " + line + ": value is not a number: " + text);
        }
    }
  }

  /** Buckets cumulative per series, +Inf present and equal to _count. */
  private void checkHistograms() {
    Map<String, Double> last = new HashMap<>();
    samples.forEach(
        (key, value) -> {
          if (!key.contains("_bucket{")) return;
          String series =
              key.replaceAll(",?le=\"[^\"]*\"", "").replace("{}", "").replace("{,", "{");
          Double before = last.put(series, value);
          if (before != null && value < before)
            throw new AssertionError("bucket counts decrease at " + key);
          if (key.contains("le=\"+Inf\"")) {
            String count = series.replace("_bucket", "_count");
            if (!value.equals(samples.get(count)))
              throw new AssertionError(
                  "+Inf bucket " + value + " != " + count + " " + samples.get(count));
          }
        });
  }
}
