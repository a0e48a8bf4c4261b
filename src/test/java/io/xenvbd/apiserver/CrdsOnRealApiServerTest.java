package io.xenvbd.apiserver;

import static io.xenvbd.testing.RealKubeApiServer.ADMIN;
import static org.assertj.core.api.Assertions.assertThat;

import io.fabric8.kubernetes.api.model.GenericKubernetesResource;
import io.fabric8.kubernetes.api.model.NamespaceBuilder;
import io.fabric8.kubernetes.api.model.apiextensions.v1.CustomResourceDefinition;
import io.fabric8.kubernetes.api.model.apiextensions.v1.JSONSchemaProps;
import io.fabric8.kubernetes.client.KubernetesClient;
import io.xenvbd.testing.Exec;
import io.xenvbd.testing.Kubectl;
import io.xenvbd.testing.ProjectCrds;
import io.xenvbd.testing.RealKubeApiServer;
import io.xenvbd.testing.RequiresKubeApiServer;
import java.nio.file.Path;
import java.util.List;
import java.util.Map;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;

/** The committed CRDs on a real kube-apiserver: accepted, defaulting, and explained by kubectl. */
@RequiresKubeApiServer
class CrdsOnRealApiServerTest {
  static final String NS = "crds";
  static RealKubeApiServer kube;
  static KubernetesClient admin;
  static List<CustomResourceDefinition> installed;

  @BeforeAll
  static void install(RealKubeApiServer server) {
    kube = server;
    admin = kube.client(ADMIN);
    installed = ProjectCrds.install(admin);
    admin
        .namespaces()
        .resource(new NamespaceBuilder().withNewMetadata().withName(NS).endMetadata().build())
        .serverSideApply();
  }

  @AfterAll
  static void close() {
    if (admin != null) admin.close();
  }

  @Test
  void bothCrdsAreEstablishedWithStructuralSchemasAndEveryCelRuleKept() {
    assertThat(installed)
        .extracting(c -> c.getMetadata().getName())
        .containsExactlyInAnyOrder("virtualdisks.xenvbd.io", "dom0nodes.xenvbd.io");
    long rules = 0;
    for (Path file : ProjectCrds.files()) {
      CustomResourceDefinition committed = ProjectCrds.read(file);
      CustomResourceDefinition served =
          admin
              .apiextensions()
              .v1()
              .customResourceDefinitions()
              .withName(committed.getMetadata().getName())
              .get();
      assertThat(ProjectCrds.condition(served, "Established"))
          .as(file.toString())
          .isEqualTo("True");
      assertThat(ProjectCrds.condition(served, "NamesAccepted"))
          .as(file.toString())
          .isEqualTo("True");
      // A non-structural schema is accepted for v1 CRDs only as an error; the condition says so.
      assertThat(ProjectCrds.condition(served, "NonStructuralSchema"))
          .as(file.toString())
          .isEqualTo("absent");
      // The API server compiled every CEL rule within its cost budget (it refuses the CRD
      // otherwise)
      // and kept each one: none was dropped on the way.
      assertThat(rules(served.getSpec().getVersions().get(0).getSchema().getOpenAPIV3Schema()))
          .as(file.toString())
          .isEqualTo(
              rules(committed.getSpec().getVersions().get(0).getSchema().getOpenAPIV3Schema()));
      rules += rules(served.getSpec().getVersions().get(0).getSchema().getOpenAPIV3Schema());
    }
    assertThat(rules).isGreaterThanOrEqualTo(7);
  }

  @Test
  void aMinimalVirtualDiskGetsTheDocumentedDefaultsFromTheRealServer() {
    GenericKubernetesResource vd =
        admin.resource(VirtualDisks.of("defaults", "size: 2Gi")).inNamespace(NS).create();
    @SuppressWarnings("unchecked")
    Map<String, Object> spec = (Map<String, Object>) vd.getAdditionalProperties().get("spec");
    assertThat(spec)
        .containsEntry("filesystem", "ext4")
        .containsEntry("preallocate", false)
        .containsEntry("reclaimPolicy", "Delete");
    assertThat(spec.get("xen")).isNull(); // defaults inside an absent object are not filled in
  }

  @Test
  void kubectlExplainDescribesPopulateWithTheMachinesKubectlAndTheMatchingOne() {
    for (Path binary : List.of(Kubectl.SYSTEM, kube.binaries().kubectl())) {
      Kubectl kubectl = new Kubectl(binary, kube.kubeconfig(ADMIN));
      Exec.Result explain = kubectl.run("explain", "vd.spec.populate");
      assertThat(explain.exit()).as(binary + ": " + explain.all()).isZero();
      assertThat(explain.out())
          .as(binary.toString())
          .contains(
              "GROUP:      xenvbd.io",
              "KIND:       VirtualDisk",
              "VERSION:    v1alpha1",
              "FIELD: populate <Object>")
          .contains(
              "archive\t<Object>",
              "cloneFrom\t<Object>",
              "createDirs\t<[]string>",
              "hostPaths\t<[]Object>",
              "method\t<string>")
          .contains("What to copy into the new filesystem");
      Exec.Result method = kubectl.run("explain", "virtualdisks.spec.populate.method");
      assertThat(method.out())
          .as(binary + ": " + method.all())
          .contains("ENUM:", "Auto", "LoopMount", "Offline");
    }
  }

  private static long rules(JSONSchemaProps schema) {
    if (schema == null) return 0;
    long n =
        schema.getXKubernetesValidations() == null ? 0 : schema.getXKubernetesValidations().size();
    if (schema.getProperties() != null)
      n += schema.getProperties().values().stream().mapToLong(CrdsOnRealApiServerTest::rules).sum();
    if (schema.getItems() != null) n += rules(schema.getItems().getSchema());
    if (schema.getAdditionalProperties() != null)
      n += rules(schema.getAdditionalProperties().getSchema());
    return n;
  }
}
