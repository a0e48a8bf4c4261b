package io.xenvbd.agent;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;
import static org.awaitility.Awaitility.await;

import io.xenvbd.ca.CertificateAuthority;
import io.xenvbd.client.HttpAgentClient;
import io.xenvbd.protocol.AgentClient;
import io.xenvbd.protocol.AgentException;
import io.xenvbd.protocol.AgentUnreachableException;
import io.xenvbd.protocol.DiskSpec;
import io.xenvbd.protocol.DiskState;
import io.xenvbd.protocol.PutDiskRequest;
import io.xenvbd.testing.Host;
import io.xenvbd.testing.RequiresRoot;
import io.xenvbd.tls.Tls;
import java.net.URI;
import java.net.http.HttpResponse;
import java.nio.file.Path;
import java.time.Duration;
import java.util.List;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** The operator's client against the real agent over HTTPS, and the agent's /metrics. */
@RequiresRoot
class AgentClientAndMetricsTest {
  @TempDir Path dir;

  private static DiskSpec spec(String size) {
    return new DiskSpec(null, size, null, null, null, null, null, null);
  }

  @Test
  void httpAgentClientRoundTripsEveryCall() throws Exception {
    try (AgentHarness h = AgentHarness.start(dir, null)) {
      AgentClient client =
          HttpAgentClient.factory(h.token, h.clientSsl)
              .forNode("node-a", h.agent.endpoint().toString());
      assertThat(client.getDisk("default", "rt")).isEmpty();
      DiskState started =
          client.putDisk("default", "rt", new PutDiskRequest("uid-rt", spec("24Mi")));
      assertThat(started.phase()).isIn(DiskState.Phase.Building, DiskState.Phase.Ready);
      assertThat(started.capacityBytes()).isEqualTo(24L << 20);
      DiskState ready = h.awaitReady("default", "rt", Duration.ofSeconds(60));
      assertThat(client.putDisk("default", "rt", new PutDiskRequest("uid-rt", spec("24Mi"))))
          .isEqualTo(ready);
      assertThat(client.node().images()).extracting(i -> i.uid()).containsExactly("uid-rt");

      assertThatThrownBy(
              () -> client.putDisk("default", "rt", new PutDiskRequest("uid-other", spec("24Mi"))))
          .isInstanceOfSatisfying(
              AgentException.class,
              e -> {
                assertThat(e.code()).isEqualTo("NotOwner");
                assertThat(e.httpStatus()).isEqualTo(409);
                assertThat(e.getMessage())
                    .as("the other owner's uid is not told")
                    .doesNotContain("uid-rt");
              });
      AgentClient wrongToken =
          new HttpAgentClient(h.agent.endpoint(), "nope", h.clientSsl, Duration.ofSeconds(5));
      assertThatThrownBy(wrongToken::node)
          .isInstanceOfSatisfying(
              AgentException.class, e -> assertThat(e.httpStatus()).isEqualTo(401));
      CertificateAuthority.Issued otherCa =
          CertificateAuthority.generate(dir.resolve("other"), List.of("127.0.0.1"));
      AgentClient distrusting =
          new HttpAgentClient(
              h.agent.endpoint(),
              h.token,
              Tls.clientContext(otherCa.caCert()),
              Duration.ofSeconds(5));
      assertThatThrownBy(distrusting::node).isInstanceOf(AgentUnreachableException.class);
      AgentClient nobody =
          new HttpAgentClient(
              URI.create("https://127.0.0.1:1"), h.token, h.clientSsl, Duration.ofSeconds(5));
      assertThatThrownBy(nobody::node)
          .isInstanceOf(AgentUnreachableException.class)
          .hasMessageContaining("unreachable");

      client.deleteDisk("default", "rt", "uid-rt");
      client.deleteDisk("default", "rt", "uid-rt");
      assertThat(client.getDisk("default", "rt")).isEmpty();
      assertThat(h.filesUnderRoot()).isEmpty();
    } finally {
      Host.releaseAll(dir);
    }
  }

  @Test
  void metricsParseAsPrometheusTextAndCountersMove() throws Exception {
    try (AgentHarness h = AgentHarness.start(dir, null)) {
      HttpResponse<String> before = h.call("GET", "/metrics", null, null);
      assertThat(before.statusCode()).isEqualTo(200);
      assertThat(before.headers().firstValue("Content-Type").orElseThrow())
          .startsWith("text/plain; version=0.0.4");
      PrometheusText m0 = PrometheusText.parse(before.body());
      assertThat(m0.types)
          .containsEntry("xenvbd_agent_operations_total", "counter")
          .containsEntry("xenvbd_agent_operation_duration_seconds", "histogram")
          .containsEntry("xenvbd_agent_loop_devices_in_use", "gauge");
      assertThat(m0.value("xenvbd_agent_images_root_bytes", "kind", "capacity")).isPositive();

      h.client.putDisk("default", "m", new PutDiskRequest("uid-m", spec("16Mi")));
      h.awaitReady("default", "m", Duration.ofSeconds(60));
      h.call("PUT", "/v1/disks/default/m", "{broken", h.token);
      h.client.deleteDisk("default", "m", "uid-m");

      // A request is counted once its answer is sent: the last ones may be counted a moment after
      // the client has their answers.
      await()
          .atMost(Duration.ofSeconds(10))
          .pollInterval(Duration.ofMillis(20))
          .untilAsserted(
              () -> {
                PrometheusText m1 =
                    PrometheusText.parse(h.call("GET", "/metrics", null, null).body());
                assertThat(
                        m1.value(
                            "xenvbd_agent_operations_total", "kind", "build", "result", "success"))
                    .isEqualTo(
                        m0.value(
                                "xenvbd_agent_operations_total",
                                "kind",
                                "build",
                                "result",
                                "success")
                            + 1);
                assertThat(
                        m1.value(
                            "xenvbd_agent_operations_total", "kind", "delete", "result", "success"))
                    .isEqualTo(1);
                assertThat(
                        m1.value("xenvbd_agent_operation_duration_seconds_count", "kind", "build"))
                    .isEqualTo(1);
                assertThat(m1.value("xenvbd_agent_operation_duration_seconds_sum", "kind", "build"))
                    .isPositive();
                assertThat(
                        m1.value(
                            "xenvbd_agent_http_requests_total", "method", "PUT", "code", "400"))
                    .isEqualTo(1);
                assertThat(m1.value("xenvbd_agent_images_root_bytes", "kind", "promised")).isZero();
              });
    } finally {
      Host.releaseAll(dir);
    }
  }

  @Test
  void metricsCanRequireTheToken() throws Exception {
    try (AgentHarness h = AgentHarness.start(dir, null, c -> c.metricsRequireToken(true))) {
      assertThat(h.call("GET", "/metrics", null, null).statusCode()).isEqualTo(401);
      assertThat(h.call("GET", "/metrics", null, h.token).statusCode()).isEqualTo(200);
      assertThat(h.call("GET", "/healthz", null, null).statusCode()).isEqualTo(200);
    }
  }
}
