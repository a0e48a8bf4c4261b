package io.xenvbd.kube;

import io.xenvbd.api.Sizes;
import java.math.BigDecimal;

/**
 * A Kubernetes resource quantity (2Gi, 500m, 1.5G, 1e3) as an exact decimal, for CEL's quantity
 * library.
 */
record Quantity(String text, BigDecimal value) implements Comparable<Quantity> {

  /** Parsed by {@link Sizes#amount}, the parser the operator and the agent size images with. */
  static Quantity parse(String text) {
    return new Quantity(text, Sizes.amount(text));
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
