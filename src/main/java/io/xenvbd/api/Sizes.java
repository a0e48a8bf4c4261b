package io.xenvbd.api;

import java.math.BigDecimal;
import java.util.Locale;
import java.util.Map;
import java.util.regex.Matcher;
import java.util.regex.Pattern;

/**
 * Kubernetes quantities to bytes and bytes to what a person reads. The one quantity parser: the
 * operator and the agent size images with it, and the embedded API's CEL {@code quantity()}
 * compares with it, so a size means the same everywhere.
 */
public final class Sizes {
  private Sizes() {}

  /** A number, then an exponent ({@code e3}) or a suffix; which of the two is decided below. */
  private static final Pattern FORM =
      Pattern.compile("^([+-]?[0-9.]+)([eE][+-]?[0-9]+|[a-zA-Z]*)$");

  private static final Pattern EXPONENT = Pattern.compile("^[eE][+-]?[0-9]+$");
  private static final Map<String, BigDecimal> SUFFIX =
      Map.ofEntries(
          Map.entry("", BigDecimal.ONE),
          Map.entry("n", new BigDecimal("1e-9")),
          Map.entry("u", new BigDecimal("1e-6")),
          Map.entry("m", new BigDecimal("1e-3")),
          Map.entry("k", new BigDecimal("1e3")),
          Map.entry("M", new BigDecimal("1e6")),
          Map.entry("G", new BigDecimal("1e9")),
          Map.entry("T", new BigDecimal("1e12")),
          Map.entry("P", new BigDecimal("1e15")),
          Map.entry("E", new BigDecimal("1e18")),
          Map.entry("Ki", BigDecimal.valueOf(1L << 10)),
          Map.entry("Mi", BigDecimal.valueOf(1L << 20)),
          Map.entry("Gi", BigDecimal.valueOf(1L << 30)),
          Map.entry("Ti", BigDecimal.valueOf(1L << 40)),
          Map.entry("Pi", BigDecimal.valueOf(1L << 50)),
          Map.entry("Ei", BigDecimal.valueOf(1L << 60)));

  /**
   * The exact value of a quantity ({@code 2Gi}, {@code 500m}, {@code 1.5G}, {@code 1e3}, signed or
   * not), as Kubernetes reads it; surrounding white space is ignored. {@code E} and {@code Ei} are
   * the exa suffixes, and only {@code e}/{@code E} followed by digits is an exponent.
   *
   * @throws IllegalArgumentException in kube-apiserver's words, when it is not a quantity
   */
  public static BigDecimal amount(String quantity) {
    Matcher m = FORM.matcher(quantity.trim());
    if (!m.matches()) {
      throw new IllegalArgumentException(
          "quantities must match the regular expression "
              + "'^([+-]?[0-9.]+)([eEinumkKMGTP]*[-+]?[0-9]*)$': "
              + quantity);
    }
    BigDecimal number;
    try {
      number = new BigDecimal(m.group(1));
    } catch (NumberFormatException e) {
      throw new IllegalArgumentException(
          "quantities must match the regular expression "
              + "'^([+-]?[0-9.]+)([eEinumkKMGTP]*[-+]?[0-9]*)$': "
              + quantity);
    }
    String suffix = m.group(2);
    if (EXPONENT.matcher(suffix).matches()) {
      return number.scaleByPowerOfTen(Integer.parseInt(suffix.substring(1)));
    }
    BigDecimal factor = SUFFIX.get(suffix);
    if (factor == null) {
      throw new IllegalArgumentException("unable to parse quantity's suffix: " + quantity);
    }
    return number.multiply(factor);
  }

  /**
   * Bytes of a quantity such as {@code 2Gi} or {@code 500M}.
   *
   * @throws IllegalArgumentException with a message naming the value, when it is not a whole,
   *     positive number of bytes
   */
  public static long bytes(String quantity) {
    if (quantity == null || quantity.isBlank()) {
      throw new IllegalArgumentException("size is missing: give a quantity such as 2Gi");
    }
    BigDecimal amount;
    try {
      amount = amount(quantity);
    } catch (RuntimeException e) {
      throw new IllegalArgumentException(
          "size '" + quantity + "' is not a Kubernetes quantity: use a form such as 2Gi or 500Mi");
    }
    if (amount.signum() <= 0) {
      throw new IllegalArgumentException("size '" + quantity + "' must be greater than zero");
    }
    try {
      return amount.longValueExact();
    } catch (ArithmeticException e) {
      throw new IllegalArgumentException(
          "size '" + quantity + "' is not a whole number of bytes, or is too large");
    }
  }

  /** 1536 → "1.5Ki"; binary units, at most one decimal. */
  public static String human(long bytes) {
    if (bytes < 1024) return bytes + "B";
    String[] units = {"Ki", "Mi", "Gi", "Ti", "Pi", "Ei"};
    double value = bytes;
    int unit = -1;
    while (value >= 1024 && unit < units.length - 1) {
      value /= 1024;
      unit++;
    }
    String text = String.format(Locale.ROOT, "%.1f", value);
    if (text.endsWith(".0")) text = text.substring(0, text.length() - 2);
    return text + units[unit];
  }
}
