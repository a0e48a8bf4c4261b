package io.xenvbd.api;

import io.fabric8.kubernetes.api.model.Quantity;
import java.math.BigDecimal;
import java.util.Locale;

/** Kubernetes quantities to bytes and bytes to what a person reads. */
public final class Sizes {
  private Sizes() {}

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
      amount = Quantity.getAmountInBytes(new Quantity(quantity.trim()));
    } catch (RuntimeException e) {
      throw new IllegalArgumentException("size '" + quantity + "' is not a Kubernetes quantity: use a form such as 2Gi or 500Mi");
    }
    if (amount.signum() <= 0) {
      throw new IllegalArgumentException("size '" + quantity + "' must be greater than zero");
    }
    try {
      return amount.longValueExact();
    } catch (ArithmeticException e) {
      throw new IllegalArgumentException("size '" + quantity + "' is not a whole number of bytes, or is too large");
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
