package io.xenvbd.api;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import java.math.BigDecimal;
import org.junit.jupiter.api.Test;

/** The one quantity parser, read as kube-apiserver reads quantities. */
class SizesTest {

  @Test
  void everySuffixAndExponentIsExact() {
    assertThat(Sizes.bytes("2Gi")).isEqualTo(2L << 30);
    assertThat(Sizes.bytes("1.5Gi")).isEqualTo(3L << 29);
    assertThat(Sizes.bytes(".5Ki")).isEqualTo(512);
    assertThat(Sizes.bytes(" 500M ")).isEqualTo(500_000_000L);
    assertThat(Sizes.bytes("1e3")).isEqualTo(1000);
    assertThat(Sizes.bytes("1E+3")).isEqualTo(1000);
    // E and Ei are the exa suffixes, not an exponent, and binary ones are exact (no double
    // rounding)
    assertThat(Sizes.bytes("1E")).isEqualTo(1_000_000_000_000_000_000L);
    assertThat(Sizes.bytes("1Ei")).isEqualTo(1L << 60);
    assertThat(Sizes.bytes("7Ei")).isEqualTo(7L << 60);
    assertThat(Sizes.amount("500m")).isEqualByComparingTo(new BigDecimal("0.5"));
    assertThat(Sizes.amount("-1n")).isEqualByComparingTo(new BigDecimal("-1e-9"));
    assertThat(Sizes.amount("1e-3")).isEqualByComparingTo(new BigDecimal("0.001"));
  }

  @Test
  void aNonQuantityIsRefusedInKubernetesWords() {
    for (String bad : new String[] {"", "Gi", "2 Gi", "1.5.5", "0x10", "e3", "+", "1Mi1"}) {
      assertThatThrownBy(() -> Sizes.amount(bad))
          .as(bad)
          .isInstanceOf(IllegalArgumentException.class)
          .hasMessageStartingWith("quantities must match the regular expression");
    }
    for (String bad : new String[] {"2gi", "1K", "3TB", "1e"}) {
      assertThatThrownBy(() -> Sizes.amount(bad))
          .as(bad)
          .hasMessageStartingWith("unable to parse quantity's suffix");
    }
  }

  @Test
  void bytesSaysWhatIsWrongWithASize() {
    assertThatThrownBy(() -> Sizes.bytes(null))
        .hasMessage("size is missing: give a quantity such as 2Gi");
    assertThatThrownBy(() -> Sizes.bytes("2GB"))
        .hasMessageContaining("is not a Kubernetes quantity");
    assertThatThrownBy(() -> Sizes.bytes("-1Gi")).hasMessageContaining("must be greater than zero");
    assertThatThrownBy(() -> Sizes.bytes("1m"))
        .hasMessageContaining("is not a whole number of bytes");
    assertThatThrownBy(() -> Sizes.bytes("8Ei")).hasMessageContaining("or is too large");
    assertThatThrownBy(() -> Sizes.bytes("1e999999999")).hasMessageContaining("or is too large");
  }
}
