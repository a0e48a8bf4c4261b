package io.xenvbd.helm;

import static io.xenvbd.testing.RealKubeApiServer.ADMIN;
import static org.assertj.core.api.Assertions.assertThat;

import com.marcnuri.helm.Helm;
import com.marcnuri.helm.Release;
import io.fabric8.kubernetes.api.model.HasMetadata;
import io.fabric8.kubernetes.client.KubernetesClient;
import io.xenvbd.testing.RealKubeApiServer;
import io.xenvbd.testing.RequiresKubeApiServer;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import java.util.Map;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;

/**
 * The chart through real Helm (helm-java) into a real kube-apiserver 1.34: install with Helm's
 * OpenAPI validation on (the chart's kubeVersion check reads the server's stamped version), every
 * object it renders accepted and stored as rendered, an upgrade by Helm's own three-way strategic
 * merge patch keeping the generated token, and an uninstall that removes everything but the CRDs. A
 * release name and namespace of its own, so other classes sharing the server are not disturbed.
 */
@RequiresKubeApiServer
class HelmOnRealApiServerTest {
  static final String RELEASE = "hr";
  static final String NAMESPACE = "helm-real";
  static RealKubeApiServer kube;
  static KubernetesClient admin;
  static String kubeconfig;

  @BeforeAll
  static void start(RealKubeApiServer server) throws Exception {
    kube = server;
    admin = kube.client(ADMIN);
    kubeconfig = Files.readString(kube.kubeconfig(ADMIN));
  }

  @AfterAll
  static void close() {
    if (admin != null) admin.close();
  }

  @Test
  void installUpgradeAndUninstallWithEveryRenderedObjectAccepted(
      @org.junit.jupiter.api.io.TempDir Path dir) throws Exception {
    Path values =
        Files.writeString(
            dir.resolve("values.yaml"), "agent: {nodes: [{name: dom0-a, ips: [10.0.0.5]}]}\n");
    Release installed =
        new Helm(Chart.DIR)
            .install()
            .withName(RELEASE)
            .withNamespace(NAMESPACE)
            .createNamespace()
            .withValuesFile(values)
            .withKubeConfigContents(kubeconfig)
            .call();
    assertThat(installed.getStatus()).isEqualTo("deployed");

    // The same values rendered again: the same objects (names and kinds); generated secrets differ.
    List<HasMetadata> rendered =
        Chart.parse(
            new Helm(Chart.DIR)
                .template()
                .withName(RELEASE)
                .withNamespace(NAMESPACE)
                .withKubeVersion("v" + kube.binaries().version())
                .withValuesFile(values)
                .call());
    assertThat(rendered)
        .extracting(HasMetadata::getKind)
        .contains(
            "ServiceAccount",
            "ClusterRole",
            "ClusterRoleBinding",
            "Role",
            "RoleBinding",
            "Secret",
            "Deployment",
            "DaemonSet",
            "ValidatingAdmissionPolicy",
            "ValidatingAdmissionPolicyBinding");
    for (HasMetadata object : rendered) {
      HasMetadata stored = admin.resource(object).inNamespace(namespaceOf(object)).get();
      assertThat(stored).as(object.getKind() + " " + object.getMetadata().getName()).isNotNull();
      assertThat(stored.getMetadata().getLabels())
          .as(object.getKind() + " " + object.getMetadata().getName())
          .containsEntry("app.kubernetes.io/instance", RELEASE);
    }
    Map<String, String> token =
        admin
            .secrets()
            .inNamespace(NAMESPACE)
            .withName(RELEASE + "-xenvbd-agent-token-dom0-a")
            .get()
            .getData();

    Release upgraded =
        new Helm(Chart.DIR)
            .upgrade()
            .withName(RELEASE)
            .withNamespace(NAMESPACE)
            .withValuesFile(values)
            .set("operator.replicas", 3)
            .withKubeConfigContents(kubeconfig)
            .call();
    assertThat(upgraded.getStatus()).isEqualTo("deployed");
    assertThat(upgraded.getRevision()).isEqualTo("2");
    assertThat(
            admin
                .apps()
                .deployments()
                .inNamespace(NAMESPACE)
                .withName(RELEASE + "-xenvbd-operator")
                .get()
                .getSpec()
                .getReplicas())
        .isEqualTo(3);
    assertThat(
            admin
                .secrets()
                .inNamespace(NAMESPACE)
                .withName(RELEASE + "-xenvbd-agent-token-dom0-a")
                .get()
                .getData())
        .isEqualTo(token);

    Helm.uninstall(RELEASE).withNamespace(NAMESPACE).withKubeConfigContents(kubeconfig).call();
    for (HasMetadata object : rendered) {
      assertThat(admin.resource(object).inNamespace(namespaceOf(object)).get())
          .as(object.getKind() + " " + object.getMetadata().getName() + " after uninstall")
          .isNull();
    }
    // Helm never deletes what it installed from crds/: the VirtualDisks (and their images) stay.
    assertThat(
            admin
                .apiextensions()
                .v1()
                .customResourceDefinitions()
                .withName("virtualdisks.xenvbd.io")
                .get())
        .isNotNull();
  }

  private static String namespaceOf(HasMetadata object) {
    return object.getMetadata().getNamespace() == null
        ? NAMESPACE
        : object.getMetadata().getNamespace();
  }
}
