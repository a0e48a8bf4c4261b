package io.xenvbd.reliability;

import static org.assertj.core.api.Assertions.assertThat;

import io.fabric8.kubernetes.api.model.Condition;
import io.xenvbd.agent.Agent;
import io.xenvbd.api.Conditions;
import io.xenvbd.protocol.Tls;
import io.xenvbd.testing.RequiresRoot;
import java.nio.file.Path;
import java.time.Duration;
import java.util.List;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * Promise 4 from the other side: a node whose agent presents a certificate that the operator's CA did
 * not sign (an impostor registering a Dom0Node, or a man in the middle) never receives a request, so
 * it never sees the bearer token; the disk says the node is unreachable instead of being built there.
 */
@RequiresRoot
class ImpostorAgentTest {
  @TempDir Path tmp;

  @Test
  void theOperatorSendsNothingToAnAgentWhoseCertificateItsCaDidNotSign() throws Exception {
    try (Rig rig = new Rig(tmp.resolve("rig"))) {
      Tls.Generated other = Tls.generate(tmp.resolve("other-ca"), List.of("127.0.0.1", "localhost"));
      Agent impostor = rig.agent("impostor", tmp.resolve("images"), List.of(), rig.client, c -> c.withTls(other.cert(), other.key()));
      rig.startOperator();
      rig.apply(Rig.disk("lured", "64Mi", "nodeName: impostor"));
      var d = rig.awaitCondition("lured", Conditions.READY, Conditions.UNKNOWN, "NodeUnreachable", Duration.ofSeconds(60));
      Condition ready = Rig.condition(d, Conditions.READY);
      assertThat(ready.getMessage()).contains("unreachable").doesNotContain(rig.token);
      Thread.sleep(3000); // several retries
      String metrics = AgentMetrics.scrape(Tls.clientContext(other.caCert()), impostor.address().getPort());
      assertThat(metrics).as("requests the impostor answered").doesNotContain("method=\"PUT\"").doesNotContain("method=\"GET\"")
          .doesNotContain("method=\"DELETE\"");
      assertThat(Host.images(tmp.resolve("images"))).isEmpty();
      System.out.println("[reliability] impostor agent: no request reached it; " + ready.getReason() + ": " + ready.getMessage());
    }
  }
}
