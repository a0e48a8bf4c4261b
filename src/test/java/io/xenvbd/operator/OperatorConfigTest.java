package io.xenvbd.operator;

import static org.assertj.core.api.Assertions.assertThat;

import java.nio.file.Path;
import java.time.Duration;
import java.util.Set;
import org.junit.jupiter.api.Test;

class OperatorConfigTest {

  @Test
  void everySettingSurvivesToBuilderAndBack() {
    OperatorConfig c =
        OperatorConfig.builder()
            .namespaces(Set.of("a", "b"))
            .tokenFile(Path.of("/t"))
            .agentCa(Path.of("/ca.pem"))
            .managementPort(8080)
            .leaderElection(true)
            .leaseNamespace("ops")
            .leaseName("lease")
            .identity("op-1")
            .exitOnLostLease(true)
            .pollMin(Duration.ofMillis(1))
            .pollMax(Duration.ofMillis(2))
            .retryMin(Duration.ofMillis(3))
            .retryMax(Duration.ofMillis(4))
            .pendingRecheck(Duration.ofMillis(5))
            .readyRecheck(Duration.ofMillis(6))
            .build();
    assertThat(c.toBuilder().build()).isEqualTo(c);
    OperatorConfig other = c.toBuilder().pollMax(Duration.ofSeconds(9)).build();
    assertThat(other.pollMax()).isEqualTo(Duration.ofSeconds(9));
    assertThat(other.toBuilder().pollMax(c.pollMax()).build())
        .as("only pollMax changed")
        .isEqualTo(c);
  }

  @Test
  void theInProcessDefaultsAreTheDocumentedOnes() {
    OperatorConfig c = OperatorConfig.inProcess();
    assertThat(c.namespaces()).isEmpty();
    assertThat(c.tokenFile()).isNull();
    assertThat(c.managementPort()).isZero();
    assertThat(c.leaderElection()).isFalse();
    assertThat(c.exitOnLostLease()).isFalse();
    assertThat(c.leaseNamespace()).isEqualTo("default");
    assertThat(c.leaseName()).isEqualTo("xenvbd-operator");
    assertThat(c.identity()).isNotBlank();
    assertThat(c.pollMin()).isEqualTo(Duration.ofMillis(200));
    assertThat(c.pollMax()).isEqualTo(Duration.ofSeconds(5));
    assertThat(c.retryMin()).isEqualTo(Duration.ofSeconds(1));
    assertThat(c.retryMax()).isEqualTo(Duration.ofMinutes(2));
    assertThat(c.pendingRecheck()).isEqualTo(Duration.ofSeconds(30));
    assertThat(c.readyRecheck()).isEqualTo(Duration.ofSeconds(60));
  }
}
