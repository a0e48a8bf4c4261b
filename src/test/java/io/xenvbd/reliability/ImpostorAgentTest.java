package io.xenvbd.reliability;

import static org.assertj.core.api.Assertions.assertThat;

import io.fabric8.kubernetes.api.model.Condition;
import io.xenvbd.agent.Agent;
import io.xenvbd.agent.AgentConfig;
import io.xenvbd.api.Conditions;
import io.xenvbd.api.Reasons;
import io.xenvbd.ca.CertificateAuthority;
import io.xenvbd.client.AgentTrust;
import io.xenvbd.client.HttpAgentClient;
import io.xenvbd.client.NodeTokens;
import io.xenvbd.operator.XenvbdOperator;
import io.xenvbd.testing.Host;
import io.xenvbd.testing.Manifests;
import io.xenvbd.testing.RequiresRoot;
import io.xenvbd.tls.Tls;
import java.net.URI;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.nio.file.Path;
import java.time.Duration;
import java.util.List;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * Promise 4 from the other side: a node whose agent presents a certificate that the operator's CA
 * did not sign (an impostor registering a Dom0Node, or a man in the middle), or one the CA issued
 * to another node, or that advertises plain HTTP, never receives a request, so it never sees the
 * bearer token; the disk says why instead of being built there.
 */
@RequiresRoot
class ImpostorAgentTest {
  @TempDir Path tmp;

  @Test
  void theOperatorSendsNothingToAnAgentWhoseCertificateItsCaDidNotSign() throws Exception {
    try (Rig rig = new Rig(tmp.resolve("rig"))) {
      CertificateAuthority.Issued other =
          CertificateAuthority.generate(tmp.resolve("other-ca"), List.of("127.0.0.1", "localhost"));
      Agent impostor =
          rig.agent(
              "impostor",
              tmp.resolve("images"),
              List.of(),
              rig.client,
              c -> c.tls(other.cert(), other.key()));
      rig.startOperator();
      rig.apply(Manifests.disk("lured", "64Mi", "nodeName: impostor"));
      var d =
          rig.awaitCondition(
              "lured",
              Conditions.READY,
              Conditions.UNKNOWN,
              "NodeUnreachable",
              Duration.ofSeconds(60));
      Condition ready = Rig.condition(d, Conditions.READY);
      assertThat(ready.getMessage()).contains("unreachable").doesNotContain(rig.token);
      Thread.sleep(3000); // several retries
      String metrics =
          AgentMetrics.scrape(Tls.clientContext(other.caCert()), impostor.address().getPort());
      assertThat(metrics)
          .as("requests the impostor answered")
          .doesNotContain("method=\"PUT\"")
          .doesNotContain("method=\"GET\"")
          .doesNotContain("method=\"DELETE\"");
      assertThat(Host.images(tmp.resolve("images"))).isEmpty();
      System.out.println(
          "[reliability] impostor agent: no request reached it; "
              + ready.getReason()
              + ": "
              + ready.getMessage());
    }
  }

  @Test
  void aCertificateTheCaIssuedToAnotherNodeDoesNotMakeItsHolderThisNodesAgent() throws Exception {
    try (Rig rig = new Rig(tmp.resolve("rig"))) {
      // One CA, one certificate per node (the chart's agent.nodes mode). Whoever holds node-b's key
      // registers a Dom0Node node-a (or answers at node-a's address) and presents node-b's
      // certificate.
      CertificateAuthority ca = CertificateAuthority.create(tmp.resolve("ca"));
      CertificateAuthority.Issued nodeB =
          ca.issue(tmp.resolve("node-b"), List.of("node-b", "127.0.0.1"));
      Agent impostor =
          rig.agent(
              "node-a",
              tmp.resolve("images"),
              List.of(),
              rig.client,
              c -> c.tls(nodeB.cert(), nodeB.key()));
      rig.operator =
          XenvbdOperator.start(
              rig.client,
              Rig.fastOperator(),
              HttpAgentClient.factory(
                  NodeTokens.shared(rig.token),
                  AgentTrust.fromCa(ca.caCert(), AgentTrust.Identity.NODE)));
      rig.apply(Manifests.disk("lured", "64Mi", "nodeName: node-a"));
      var d =
          rig.awaitCondition(
              "lured",
              Conditions.READY,
              Conditions.UNKNOWN,
              Reasons.AGENT_IDENTITY_MISMATCH,
              Duration.ofSeconds(60));
      Condition ready = Rig.condition(d, Conditions.READY);
      assertThat(ready.getMessage())
          .contains("dom0 node node-a", "DNS:node-b", "not node node-a's agent")
          .doesNotContain(rig.token);
      Thread.sleep(3000); // several retries
      String metrics =
          AgentMetrics.scrape(Tls.clientContext(ca.caCert()), impostor.address().getPort());
      assertThat(metrics)
          .as("requests the impostor answered")
          .doesNotContain("method=\"PUT\"")
          .doesNotContain("method=\"GET\"")
          .doesNotContain("method=\"DELETE\"");
      assertThat(Host.images(tmp.resolve("images"))).isEmpty();
      System.out.println(
          "[reliability] another node's certificate: "
              + ready.getReason()
              + ": "
              + ready.getMessage());
    }
  }

  @Test
  void anAgentAdvertisingPlainHttpNeverReceivesTheToken() throws Exception {
    try (Rig rig = new Rig(tmp.resolve("rig"))) {
      Agent plain =
          rig.agent(
              "plain",
              tmp.resolve("images"),
              List.of(),
              rig.client,
              c ->
                  AgentConfig.localPlain("plain", tmp.resolve("images"), List.of(), rig.token)
                      .heartbeat(Duration.ofSeconds(1)));
      assertThat(plain.endpoint().getScheme()).isEqualTo("http");
      rig.startOperator(); // TLS configured: the rig's CA
      rig.apply(Manifests.disk("cleartext", "64Mi", "nodeName: plain"));
      var d =
          rig.awaitCondition(
              "cleartext",
              Conditions.READY,
              Conditions.UNKNOWN,
              Reasons.INSECURE_AGENT_ENDPOINT,
              Duration.ofSeconds(60));
      Condition ready = Rig.condition(d, Conditions.READY);
      assertThat(ready.getMessage())
          .contains(plain.endpoint().toString(), "only over HTTPS")
          .doesNotContain(rig.token);
      Thread.sleep(3000); // several retries
      HttpClient http = HttpClient.newHttpClient();
      String metrics =
          http.send(
                  HttpRequest.newBuilder(URI.create(plain.endpoint() + "/metrics")).build(),
                  HttpResponse.BodyHandlers.ofString())
              .body();
      assertThat(metrics)
          .as("requests the plain agent answered")
          .doesNotContain("method=\"PUT\"")
          .doesNotContain("method=\"GET\"")
          .doesNotContain("method=\"DELETE\"");
      assertThat(Host.images(tmp.resolve("images"))).isEmpty();
    }
  }
}
