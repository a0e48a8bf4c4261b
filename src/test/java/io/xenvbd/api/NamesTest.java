package io.xenvbd.api;

import static org.assertj.core.api.Assertions.assertThat;

import org.junit.jupiter.api.Test;

/**
 * The one DNS-1123 definition that the CRD, the operator, the agent's routes and the engine all
 * use.
 */
class NamesTest {

  @Test
  void aNamespaceIsALabelOfAtMost63Characters() {
    assertThat(Validation.isDns1123Label("default")).isTrue();
    assertThat(Validation.isDns1123Label("a".repeat(63))).isTrue();
    assertThat(Validation.isDns1123Label("a".repeat(64))).isFalse();
    for (String bad : new String[] {"", "-a", "a-", "A", "a.b", "..", "a/b", "a_b"}) {
      assertThat(Validation.isDns1123Label(bad)).as(bad).isFalse();
    }
    assertThat(Validation.isDns1123Label(null)).isFalse();
  }

  @Test
  void anObjectNameIsASubdomainOfAtMost253Characters() {
    assertThat(Validation.isDns1123Subdomain("vm1.disk-0")).isTrue();
    String longest = ("a".repeat(62) + ".").repeat(4) + "a".repeat(1);
    assertThat(longest).hasSize(253);
    assertThat(Validation.isDns1123Subdomain(longest)).isTrue();
    assertThat(Validation.isDns1123Subdomain(longest + "a")).isFalse();
    for (String bad :
        new String[] {"", ".", "..", ".a", "a.", "a..b", "a/b", "../x", "Vm1", "a b"}) {
      assertThat(Validation.isDns1123Subdomain(bad)).as(bad).isFalse();
    }
    assertThat(Validation.isDns1123Subdomain(null)).isFalse();
  }

  @Test
  void theSchemaPatternsAreTheSameDefinition() {
    assertThat(Validation.OBJECT_NAME).isEqualTo(Validation.DNS1123_SUBDOMAIN);
    assertThat(Validation.NODE_NAME).isEqualTo("^$|" + Validation.DNS1123_SUBDOMAIN);
    assertThat(Dom0NodeSpec.NAMESPACE_NAME).isEqualTo(Validation.DNS1123_LABEL);
  }
}
