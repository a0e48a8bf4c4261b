package io.xenvbd.agent;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import io.xenvbd.disk.UrlPolicy;
import java.net.InetSocketAddress;
import java.net.URI;
import java.nio.file.Path;
import java.time.Duration;
import java.util.List;
import org.junit.jupiter.api.Test;

class AgentConfigTest {

  @Test
  void everySettingSurvivesToBuilderAndBack() {
    AgentConfig c =
        AgentConfig.builder("n", Path.of("/images"), "t0ken")
            .allowedSources(List.of(Path.of("/src")))
            .listen(new InetSocketAddress("127.0.0.2", 9443))
            .advertise(URI.create("https://10.0.0.5:9443"))
            .tls(Path.of("/c.pem"), Path.of("/k.pem"))
            .workers(5)
            .heartbeat(Duration.ofSeconds(3))
            .loopWait(Duration.ofSeconds(4))
            .metricsRequireToken(true)
            .retryFailedAfter(Duration.ofSeconds(6))
            .urls(new UrlPolicy(List.of("https://mirror.example/"), List.of("mirror.internal")))
            .build();
    assertThat(c.toBuilder().build()).isEqualTo(c);
    assertThat(c.toBuilder().insecurePlainHttp(true).build().insecurePlainHttp()).isTrue();
    AgentConfig seven = c.toBuilder().workers(7).build();
    assertThat(seven.workers()).isEqualTo(7);
    assertThat(seven.toBuilder().workers(c.workers()).build())
        .as("only workers changed")
        .isEqualTo(c);
  }

  @Test
  void theDefaultsAreTheDocumentedOnes() {
    AgentConfig c = AgentConfig.localPlain("n", Path.of("/images"), List.of(), "t0ken").build();
    assertThat(c.insecurePlainHttp()).isTrue();
    assertThat(c.listen()).isEqualTo(new InetSocketAddress("127.0.0.1", 0));
    assertThat(c.workers()).isEqualTo(2);
    assertThat(c.heartbeat()).isEqualTo(Duration.ofSeconds(10));
    assertThat(c.loopWait()).isEqualTo(Duration.ofSeconds(60));
    assertThat(c.retryFailedAfter()).isEqualTo(Duration.ofSeconds(30));
    assertThat(c.metricsRequireToken()).isFalse();
    assertThat(c.urls()).isEqualTo(UrlPolicy.none());
    assertThat(c.advertise()).isNull();
  }

  @Test
  void aBuilderWithNeitherTlsNorPlainHttpSaysWhichFlagsToGive() {
    assertThatThrownBy(
            () ->
                AgentConfig.builder("n", Path.of("/images"), "t0ken")
                    .listen(new InetSocketAddress("127.0.0.1", 0))
                    .build())
        .hasMessageContaining("--tls-cert and --tls-key");
  }
}
