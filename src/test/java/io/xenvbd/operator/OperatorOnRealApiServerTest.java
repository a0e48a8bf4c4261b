package io.xenvbd.operator;

import static io.xenvbd.testing.RealKubeApiServer.ADMIN;
import static io.xenvbd.testing.RealKubeApiServer.AGENT;
import static io.xenvbd.testing.RealKubeApiServer.NAMESPACE;
import static io.xenvbd.testing.RealKubeApiServer.OPERATOR;
import static org.assertj.core.api.Assertions.assertThat;
import static org.awaitility.Awaitility.await;

import com.marcnuri.helm.Helm;
import io.fabric8.kubernetes.api.model.HasMetadata;
import io.fabric8.kubernetes.api.model.NamespaceBuilder;
import io.fabric8.kubernetes.api.model.coordination.v1.Lease;
import io.fabric8.kubernetes.client.KubernetesClient;
import io.fabric8.kubernetes.client.utils.Serialization;
import io.xenvbd.api.Conditions;
import io.xenvbd.api.Dom0Node;
import io.xenvbd.api.VirtualDisk;
import io.xenvbd.api.VirtualDiskStatus;
import io.xenvbd.testing.ProjectCrds;
import io.xenvbd.testing.RealKubeApiServer;
import io.xenvbd.testing.RequiresKubeApiServer;
import io.xenvbd.testing.RequiresRoot;
import java.io.ByteArrayInputStream;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.List;
import java.util.Objects;
import java.util.Set;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * The operator and a real agent against a real kube-apiserver, each authenticated as its own
 * ServiceAccount and authorized only by the ServiceAccounts, ClusterRoles, Roles and bindings the
 * Helm chart renders (release xv in xenvbd-system), so the real RBAC authorizer enforces them: a
 * call the chart does not grant is refused with 403 and the disk never gets Ready. Leader election
 * is on, through a real Lease in the release namespace, as in the Deployment; status goes the
 * operator's one way (a JSON patch of the whole status, StatusWritePathTest).
 */
@RequiresRoot
@RequiresKubeApiServer
class OperatorOnRealApiServerTest {
  static final Set<String> RBAC_KINDS =
      Set.of("ServiceAccount", "ClusterRole", "ClusterRoleBinding", "Role", "RoleBinding");
  static final String NS = "e2e";
  static KubernetesClient admin;
  static KubernetesClient asOperator;
  static KubernetesClient asAgent;
  static RealNodes nodes;
  static XenvbdOperator operator;
  @TempDir static Path dir;

  @BeforeAll
  static void start(RealKubeApiServer kube) {
    admin = kube.client(ADMIN);
    ProjectCrds.install(admin);
    for (String ns : List.of(NAMESPACE, NS)) {
      admin
          .namespaces()
          .resource(new NamespaceBuilder().withNewMetadata().withName(ns).endMetadata().build())
          .serverSideApply();
    }
    for (HasMetadata rbac : chartRbac(kube.binaries().version())) {
      admin.resource(rbac).inNamespace(NAMESPACE).serverSideApply();
    }
    asOperator = kube.client(OPERATOR);
    asAgent = kube.client(AGENT);
    nodes = new RealNodes(dir, asAgent);
    nodes.start("node-a");
    await()
        .atMost(Duration.ofSeconds(20))
        .until(
            () -> {
              Dom0Node n = admin.resources(Dom0Node.class).withName("node-a").get();
              return n != null && n.getStatus() != null && n.getStatus().storage() != null;
            });
  }

  /** The operator as the Deployment runs it: leader election on. */
  static void startOperator() {
    operator =
        XenvbdOperator.start(
            asOperator,
            OperatorHarness.fastConfig().toBuilder()
                .leaderElection(true)
                .leaseNamespace(NAMESPACE)
                .identity("operator-0")
                .build(),
            nodes.clients());
  }

  @AfterEach
  void stopOperator() {
    if (operator != null) operator.close();
    operator = null;
  }

  @AfterAll
  static void stop() {
    if (nodes != null) nodes.close();
    for (KubernetesClient c : new KubernetesClient[] {asOperator, asAgent, admin}) {
      if (c != null) c.close();
    }
  }

  /** What {@code helm template xv helm/xenvbd -n xenvbd-system} renders for identities and RBAC. */
  static List<HasMetadata> chartRbac(String kubeVersion) {
    String yaml =
        new Helm(Path.of("helm/xenvbd"))
            .template()
            .withName("xv")
            .withNamespace(NAMESPACE)
            .withKubeVersion("v" + kubeVersion)
            .call();
    List<HasMetadata> objects =
        Serialization.unmarshal(new ByteArrayInputStream(yaml.getBytes(StandardCharsets.UTF_8)));
    return objects.stream()
        .filter(Objects::nonNull)
        .filter(o -> RBAC_KINDS.contains(o.getKind()))
        .toList();
  }

  @Test
  void aDiskCreatedByAUserIsBuiltAndReadyThenDeletedWithItsImageUnderTheChartsRbac() {
    startOperator();
    admin.resource(Fixtures.disk(NS, "vm1disk", "64Mi")).create();
    await()
        .atMost(Duration.ofSeconds(60))
        .pollInterval(Duration.ofMillis(200))
        .until(
            () -> {
              VirtualDisk d =
                  admin.resources(VirtualDisk.class).inNamespace(NS).withName("vm1disk").get();
              return d.getStatus() != null
                  && Conditions.find(d.getStatus().conditions(), Conditions.READY)
                      .map(c -> Conditions.TRUE.equals(c.getStatus()))
                      .orElse(false);
            });
    VirtualDisk ready =
        admin.resources(VirtualDisk.class).inNamespace(NS).withName("vm1disk").get();
    VirtualDiskStatus s = ready.getStatus();
    Path image = nodes.root("node-a").resolve(NS + "/vm1disk.img");
    assertThat(s.phase()).isEqualTo(VirtualDiskStatus.Phase.Ready);
    assertThat(s.path()).isEqualTo(image.toString());
    assertThat(Files.exists(image)).isTrue();
    assertThat(s.xen().disk()).isEqualTo("format=raw, vdev=xvda1, access=rw, target=" + image);
    assertThat(ready.getMetadata().getFinalizers()).contains("xenvbd.io/image");
    // The operator's events were written under its own identity.
    await()
        .atMost(Duration.ofSeconds(10))
        .untilAsserted(
            () ->
                assertThat(admin.v1().events().inNamespace(NS).list().getItems())
                    .extracting(e -> e.getReason())
                    .contains("Scheduled", "Provisioned"));
    // Leader election went through a real Lease that the chart's Role lets the operator hold.
    Lease lease = admin.leases().inNamespace(NAMESPACE).withName("xenvbd-operator").get();
    assertThat(lease).isNotNull();
    assertThat(lease.getSpec().getHolderIdentity()).isEqualTo("operator-0");

    admin.resources(VirtualDisk.class).inNamespace(NS).withName("vm1disk").delete();
    await()
        .atMost(Duration.ofSeconds(60))
        .pollInterval(Duration.ofMillis(200))
        .until(
            () ->
                admin.resources(VirtualDisk.class).inNamespace(NS).withName("vm1disk").get()
                    == null);
    assertThat(Files.exists(image)).isFalse();
  }
}
