package io.xenvbd.kube;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import java.util.Base64;
import java.util.List;
import org.junit.jupiter.api.Test;

class BearerTokenTest {

  @Test
  void aGeneratedTokenIs256RandomBitsInBase64url() {
    BearerToken a = BearerToken.generate();
    BearerToken b = BearerToken.generate();
    assertThat(Base64.getUrlDecoder().decode(a.value())).hasSize(32);
    assertThat(a.value()).matches("[A-Za-z0-9_-]{43}").isNotEqualTo(b.value());
    assertThat(a).hasToString("BearerToken[redacted]");
  }

  @Test
  void aKeptTokenThatIsShortOrCouldBreakTheKubeconfigIsRefused() {
    for (String bad :
        List.of(
            "",
            "short",
            "a".repeat(31),
            "a".repeat(40) + "\"\n  exec: x",
            "a".repeat(40) + " b",
            "a".repeat(513))) {
      assertThatThrownBy(() -> BearerToken.of(bad))
          .as(bad)
          .isInstanceOf(IllegalArgumentException.class)
          .hasMessageContaining("delete the token file");
    }
    assertThat(BearerToken.of("a".repeat(32)).value()).isEqualTo("a".repeat(32));
  }

  @Test
  void onlyTheBearerSchemeWithTheWholeTokenMatches() {
    BearerToken t = BearerToken.generate();
    assertThat(t.matches("Bearer " + t.value())).isTrue();
    assertThat(t.matches("bearer " + t.value())).isTrue();
    assertThat(t.matches("  Bearer " + t.value() + "  ")).isTrue();
    for (String bad :
        new String[] {
          null,
          "",
          t.value(),
          "Bearer",
          "Bearer " + t.value() + "a",
          "Bearer  " + t.value(),
          "Basic " + t.value(),
          "Bearer " + t.value().substring(0, 42)
        }) {
      assertThat(t.matches(bad)).as(bad).isFalse();
    }
  }
}
