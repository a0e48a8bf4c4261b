package io.xenvbd.kube;

import static org.assertj.core.api.Assertions.assertThat;
import static org.awaitility.Awaitility.await;

import io.fabric8.kubernetes.client.KubernetesClient;
import io.fabric8.kubernetes.client.extended.leaderelection.LeaderCallbacks;
import io.fabric8.kubernetes.client.utils.Serialization;
import io.javaoperatorsdk.operator.Operator;
import io.javaoperatorsdk.operator.api.config.LeaderElectionConfiguration;
import io.xenvbd.api.VirtualDisk;
import io.xenvbd.api.VirtualDiskStatus;
import io.xenvbd.testing.Manifests;
import java.time.Duration;
import org.junit.jupiter.api.Test;

/**
 * Leader election works against the embedded API server: java-operator-sdk's permission check (a
 * SelfSubjectRulesReview) is answered, and the Lease is created and held.
 */
class JavaOperatorSdkLeaderElectionTest {
  @Test
  void theLeaderTakesTheLeaseAndReconciles() {
    try (EmbeddedApiServer server = EmbeddedApiServer.startWithProjectCrds(0);
        KubernetesClient client = server.client()) {
      // exitOnStopLeading=false: the default would System.exit(1) on operator.stop().
      LeaderElectionConfiguration election =
          new LeaderElectionConfiguration(
              "xenvbd-operator",
              "default",
              Duration.ofSeconds(4),
              Duration.ofSeconds(3),
              Duration.ofMillis(500),
              "operator-a",
              new LeaderCallbacks(() -> {}, () -> {}, id -> {}),
              false);
      Operator operator =
          new Operator(
              o ->
                  o.withKubernetesClient(client)
                      .withCloseClientOnStop(false)
                      .withLeaderElectionConfiguration(election));
      operator.register(new JavaOperatorSdkAgainstEmbeddedApiTest.TinyReconciler());
      operator.start();
      try {
        client
            .resources(VirtualDisk.class)
            .resource(
                Serialization.unmarshal(Manifests.vm1disk("led", "1Gi", "ext4"), VirtualDisk.class))
            .create();
        await()
            .atMost(Duration.ofSeconds(20))
            .untilAsserted(
                () -> {
                  VirtualDisk vd = client.resources(VirtualDisk.class).withName("led").get();
                  assertThat(vd.getStatus()).isNotNull();
                  assertThat(vd.getStatus().phase()).isEqualTo(VirtualDiskStatus.Phase.Ready);
                });
        assertThat(client.leases().withName("xenvbd-operator").get().getSpec().getHolderIdentity())
            .isEqualTo("operator-a");
      } finally {
        operator.stop();
      }
    }
  }
}
