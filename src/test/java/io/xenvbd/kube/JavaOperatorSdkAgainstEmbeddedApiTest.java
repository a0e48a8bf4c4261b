package io.xenvbd.kube;

import static org.assertj.core.api.Assertions.assertThat;
import static org.awaitility.Awaitility.await;

import io.fabric8.kubernetes.api.model.Condition;
import io.fabric8.kubernetes.api.model.ObjectMetaBuilder;
import io.fabric8.kubernetes.client.KubernetesClient;
import io.javaoperatorsdk.operator.Operator;
import io.javaoperatorsdk.operator.api.reconciler.Cleaner;
import io.javaoperatorsdk.operator.api.reconciler.Context;
import io.javaoperatorsdk.operator.api.reconciler.DeleteControl;
import io.javaoperatorsdk.operator.api.reconciler.Reconciler;
import io.javaoperatorsdk.operator.api.reconciler.UpdateControl;
import io.xenvbd.api.Conditions;
import io.xenvbd.api.VirtualDisk;
import io.xenvbd.api.VirtualDiskStatus;
import io.xenvbd.testing.Kubectl;
import io.xenvbd.testing.Manifests;
import java.nio.file.Path;
import java.time.Clock;
import java.time.Duration;
import java.util.List;
import java.util.concurrent.atomic.AtomicInteger;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * java-operator-sdk 5.2.3 with its DEFAULT configuration (server-side apply for the finalizer and
 * the status) against the embedded API server: what an operator built on the SDK's defaults does on
 * a real cluster. Ours writes both by JSON patch instead (docs/operator.md, "Status write path");
 * this keeps the embedded API honest for the SDK's default path.
 */
class JavaOperatorSdkAgainstEmbeddedApiTest {
  @TempDir static Path dir;
  static EmbeddedApiServer server;
  static KubernetesClient client;
  static Operator operator;
  static final AtomicInteger reconciles = new AtomicInteger();
  static final AtomicInteger cleanups = new AtomicInteger();

  static class TinyReconciler implements Reconciler<VirtualDisk>, Cleaner<VirtualDisk> {
    @Override
    public UpdateControl<VirtualDisk> reconcile(VirtualDisk vd, Context<VirtualDisk> context) {
      reconciles.incrementAndGet();
      long generation = vd.getMetadata().getGeneration();
      List<Condition> conditions =
          Conditions.set(
              vd.getStatus() == null ? List.of() : vd.getStatus().conditions(),
              Conditions.READY,
              Conditions.TRUE,
              "Provisioned",
              "the image is ready",
              generation,
              Clock.systemUTC());
      VirtualDisk patch = new VirtualDisk();
      patch.setMetadata(
          new ObjectMetaBuilder()
              .withName(vd.getMetadata().getName())
              .withNamespace(vd.getMetadata().getNamespace())
              .build());
      patch.setStatus(
          new VirtualDiskStatus(
              VirtualDiskStatus.Phase.Ready,
              generation,
              "dom0-a",
              null,
              null,
              null,
              null,
              null,
              null,
              null,
              null,
              null,
              conditions));
      return UpdateControl.patchStatus(patch);
    }

    @Override
    public DeleteControl cleanup(VirtualDisk vd, Context<VirtualDisk> context) {
      cleanups.incrementAndGet();
      return DeleteControl.defaultDelete();
    }
  }

  @BeforeAll
  static void start() {
    server = EmbeddedApiServer.startWithProjectCrds(0);
    client = server.client();
    operator = new Operator(o -> o.withKubernetesClient(client).withCloseClientOnStop(false));
    operator.register(new TinyReconciler());
    operator.start();
  }

  @AfterAll
  static void stop() {
    operator.stop();
    client.close();
    server.close();
  }

  @Test
  void defaultsAddTheFinalizerPatchStatusFollowSpecChangesAndCleanUp() {
    server.writeKubeconfig(dir.resolve("kubeconfig"));
    Kubectl kubectl = new Kubectl(dir.resolve("kubeconfig"));
    assertThat(
            kubectl
                .runWithInput(Manifests.vm1disk("josdk", "1Gi", "ext4"), "apply", "-f", "-")
                .exit())
        .isZero();

    await()
        .atMost(Duration.ofSeconds(15))
        .untilAsserted(
            () -> {
              VirtualDisk vd = client.resources(VirtualDisk.class).withName("josdk").get();
              assertThat(vd.getMetadata().getFinalizers()).hasSize(1);
              assertThat(vd.getStatus()).isNotNull();
              assertThat(vd.getStatus().phase()).isEqualTo(VirtualDiskStatus.Phase.Ready);
              assertThat(vd.getStatus().observedGeneration()).isEqualTo(1L);
            });
    // The status apply changed status only: spec and its defaults are intact.
    VirtualDisk ready = client.resources(VirtualDisk.class).withName("josdk").get();
    assertThat(ready.getSpec().size()).isEqualTo("1Gi");
    assertThat(ready.getStatus().conditions()).hasSize(1);

    assertThat(
            kubectl
                .runWithInput(Manifests.vm1disk("josdk", "2Gi", "ext4"), "apply", "-f", "-")
                .exit())
        .isZero();
    await()
        .atMost(Duration.ofSeconds(15))
        .untilAsserted(
            () ->
                assertThat(
                        client
                            .resources(VirtualDisk.class)
                            .withName("josdk")
                            .get()
                            .getStatus()
                            .observedGeneration())
                    .isEqualTo(2L));
    assertThat(kubectl.run("wait", "--for=condition=Ready", "vd/josdk", "--timeout=10s").exit())
        .isZero();

    assertThat(kubectl.run("delete", "vd", "josdk", "--timeout=15s").exit()).isZero();
    await()
        .atMost(Duration.ofSeconds(15))
        .untilAsserted(
            () -> {
              assertThat(client.resources(VirtualDisk.class).withName("josdk").get()).isNull();
              assertThat(cleanups.get()).isEqualTo(1);
            });
  }
}
