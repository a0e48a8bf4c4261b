package io.xenvbd.api;

import static org.assertj.core.api.Assertions.assertThat;

import io.fabric8.kubernetes.api.model.apiextensions.v1.CustomResourceDefinition;
import io.fabric8.kubernetes.api.model.apiextensions.v1.CustomResourceDefinitionVersion;
import io.fabric8.kubernetes.api.model.apiextensions.v1.JSONSchemaProps;
import io.fabric8.kubernetes.api.model.apiextensions.v1.ValidationRule;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import org.junit.jupiter.api.Test;

class CrdFilesTest {
  private static final Path DIR = Path.of("crds");

  @Test
  void committedCrdsMatchTheJavaModel() throws IOException {
    boolean update = Boolean.getBoolean("xenvbd.updateCrds");
    for (CustomResourceDefinition crd : Crds.all()) {
      Path file = DIR.resolve(Crds.fileName(crd));
      String generated = Crds.yaml(crd);
      if (update) {
        Files.createDirectories(DIR);
        Files.writeString(file, generated);
      }
      assertThat(file)
          .as(
              "crds/%s is missing; regenerate with: mvn -B test -Dtest=CrdFilesTest -Dxenvbd.updateCrds=true",
              file.getFileName())
          .exists();
      assertThat(Files.readString(file))
          .as(
              "crds/%s differs from the Java model; regenerate with: mvn -B test -Dtest=CrdFilesTest -Dxenvbd.updateCrds=true",
              file.getFileName())
          .isEqualTo(generated);
    }
  }

  @Test
  void virtualDiskCrdHasStatusShortNameAndPrinterColumnsInOrder() {
    CustomResourceDefinition crd = Crds.virtualDisk();
    assertThat(crd.getSpec().getScope()).isEqualTo("Namespaced");
    assertThat(crd.getSpec().getNames().getShortNames()).containsExactly("vd");
    CustomResourceDefinitionVersion v = crd.getSpec().getVersions().get(0);
    assertThat(v.getName()).isEqualTo("v1alpha1");
    assertThat(v.getSubresources().getStatus()).isNotNull();
    assertThat(v.getAdditionalPrinterColumns())
        .extracting(c -> c.getName())
        .containsExactly("Node", "Size", "Allocated", "FS", "Phase", "Ready", "Age");
  }

  @Test
  void dom0NodeCrdIsClusterScopedWithStatusAndColumns() {
    CustomResourceDefinition crd = Crds.dom0Node();
    assertThat(crd.getSpec().getScope()).isEqualTo("Cluster");
    CustomResourceDefinitionVersion v = crd.getSpec().getVersions().get(0);
    assertThat(v.getSubresources().getStatus()).isNotNull();
    assertThat(v.getAdditionalPrinterColumns())
        .extracting(c -> c.getName())
        .containsExactly("Loop", "Available", "Disks", "Ready", "Age");
    JSONSchemaProps spec = v.getSchema().getOpenAPIV3Schema().getProperties().get("spec");
    JSONSchemaProps allowed = spec.getProperties().get("allowedNamespaces");
    assertThat(allowed.getItems().getSchema().getPattern()).isEqualTo(Dom0NodeSpec.NAMESPACE_NAME);
    assertThat(allowed.getMaxItems()).isEqualTo((long) Dom0NodeSpec.MAX_ALLOWED_NAMESPACES);
    assertThat(spec.getProperties().get("maxBytesPerNamespace").getPattern())
        .isEqualTo(Validation.POSITIVE_QUANTITY);
    assertThat(spec.getProperties().get("unschedulable").getDescription())
        .contains("spec.nodeName", "Disks already placed");
  }

  @Test
  void virtualDiskSpecCarriesTheTransitionRulesAndDefaults() {
    JSONSchemaProps spec =
        Crds.virtualDisk()
            .getSpec()
            .getVersions()
            .get(0)
            .getSchema()
            .getOpenAPIV3Schema()
            .getProperties()
            .get("spec");
    List<String> rules =
        spec.getXKubernetesValidations().stream().map(ValidationRule::getRule).toList();
    assertThat(rules)
        .anySatisfy(r -> assertThat(r).contains("quantity(self.size)").contains("oldSelf.size"))
        .anySatisfy(r -> assertThat(r).contains("self.filesystem == oldSelf.filesystem"))
        .anySatisfy(r -> assertThat(r).contains("self.nodeName == oldSelf.nodeName"));
    assertThat(spec.getRequired()).contains("size");
    assertThat(spec.getProperties().get("filesystem").getDefault().asText()).isEqualTo("ext4");
    assertThat(spec.getProperties().get("filesystem").getEnum())
        .extracting(Object::toString)
        .containsExactlyInAnyOrder("\"ext2\"", "\"ext3\"", "\"ext4\"", "\"xfs\"", "\"none\"");
    assertThat(spec.getProperties().get("reclaimPolicy").getDefault().asText()).isEqualTo("Delete");
    assertThat(spec.getProperties().get("preallocate").getDefault().asBoolean()).isFalse();
    JSONSchemaProps xen = spec.getProperties().get("xen");
    assertThat(xen.getProperties().get("vdev").getDefault().asText()).isEqualTo("xvda1");
    assertThat(xen.getProperties().get("access").getDefault().asText()).isEqualTo("rw");
    assertThat(
            spec.getProperties()
                .get("populate")
                .getProperties()
                .get("method")
                .getDefault()
                .asText())
        .isEqualTo("Auto");
    assertThat(spec.getProperties().get("size").getDescription()).contains("never shrink");
  }
}
