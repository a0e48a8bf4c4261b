package io.xenvbd.bench;

import java.util.ArrayList;
import java.util.Collections;
import java.util.List;
import java.util.Locale;

/**
 * Medians, ranges and nearest-rank percentiles of a sample (no interpolation: every figure is a
 * measured value).
 */
record Stats(List<Double> sorted) {
  Stats {
    if (sorted.isEmpty()) throw new IllegalArgumentException("no samples");
    List<Double> copy = new ArrayList<>(sorted);
    Collections.sort(copy);
    sorted = List.copyOf(copy);
  }

  static Stats of(List<Double> values) {
    return new Stats(values);
  }

  int n() {
    return sorted.size();
  }

  double min() {
    return sorted.get(0);
  }

  double max() {
    return sorted.get(sorted.size() - 1);
  }

  /** The median; for an even count the mean of the two middle values. */
  double median() {
    int n = sorted.size();
    return n % 2 == 1 ? sorted.get(n / 2) : (sorted.get(n / 2 - 1) + sorted.get(n / 2)) / 2;
  }

  /** Nearest-rank percentile: the smallest value with at least p % of the sample at or below it. */
  double percentile(double p) {
    int rank = (int) Math.ceil(p / 100.0 * sorted.size());
    return sorted.get(Math.max(0, Math.min(sorted.size() - 1, rank - 1)));
  }

  /** "1.23 s (1.10–1.40)" style: median and range with the given format. */
  String medianRange(String fmt) {
    return String.format(Locale.ROOT, fmt + " (" + fmt + "–" + fmt + ")", median(), min(), max());
  }
}
