package io.xenvbd.kube;

import java.math.BigDecimal;
import java.util.Map;
import java.util.regex.Matcher;
import java.util.regex.Pattern;

/** A Kubernetes resource quantity (2Gi, 500m, 1.5G, 1e3) as an exact decimal, for CEL's quantity library. */
record Quantity(String text, BigDecimal value) implements Comparable<Quantity> {
  private static final Pattern FORM = Pattern.compile("^([+-]?[0-9.]+)([eE][+-]?[0-9]+|[a-zA-Z]*)$");
  private static final Map<String, BigDecimal> SUFFIX = Map.ofEntries(
      Map.entry("", BigDecimal.ONE), Map.entry("n", new BigDecimal("1e-9")), Map.entry("u", new BigDecimal("1e-6")),
      Map.entry("m", new BigDecimal("1e-3")), Map.entry("k", new BigDecimal("1e3")), Map.entry("M", new BigDecimal("1e6")),
      Map.entry("G", new BigDecimal("1e9")), Map.entry("T", new BigDecimal("1e12")),
      Map.entry("P", new BigDecimal("1e15")), Map.entry("E", new BigDecimal("1e18")),
      Map.entry("Ki", BigDecimal.valueOf(1L << 10)), Map.entry("Mi", BigDecimal.valueOf(1L << 20)),
      Map.entry("Gi", BigDecimal.valueOf(1L << 30)), Map.entry("Ti", BigDecimal.valueOf(1L << 40)),
      Map.entry("Pi", BigDecimal.valueOf(1L << 50)), Map.entry("Ei", BigDecimal.valueOf(1L << 60)));

  static Quantity parse(String text) {
    Matcher m = FORM.matcher(text.trim());
    if (!m.matches()) {
      throw new IllegalArgumentException("quantities must match the regular expression "
          + "'^([+-]?[0-9.]+)([eEinumkKMGTP]*[-+]?[0-9]*)$': " + text);
    }
    BigDecimal number = new BigDecimal(m.group(1));
    String suffix = m.group(2);
    // An exponent is e/E and digits; "E" alone (exa) and "Ei" (exbi) are suffixes.
    if (suffix.matches("[eE][+-]?[0-9]+")) {
      return new Quantity(text, number.scaleByPowerOfTen(Integer.parseInt(suffix.substring(1))));
    }
    BigDecimal factor = SUFFIX.get(suffix);
    if (factor == null) {
      throw new IllegalArgumentException("unable to parse quantity's suffix: " + text);
    }
    return new Quantity(text, number.multiply(factor));
  }

  static boolean isQuantity(String text) {
    try {
      parse(text);
      return true;
    } catch (RuntimeException e) {
      return false;
    }
  }

  @Override
  public int compareTo(Quantity o) {
    return value.compareTo(o.value);
  }

  Quantity add(Quantity o) {
    BigDecimal sum = value.add(o.value);
    return new Quantity(sum.toPlainString(), sum);
  }

  Quantity sub(Quantity o) {
    BigDecimal diff = value.subtract(o.value);
    return new Quantity(diff.toPlainString(), diff);
  }
}
