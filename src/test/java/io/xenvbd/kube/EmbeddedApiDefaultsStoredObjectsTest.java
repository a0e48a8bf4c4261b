package io.xenvbd.kube;

import static org.assertj.core.api.Assertions.assertThat;

import io.fabric8.kubernetes.api.model.GenericKubernetesResource;
import io.fabric8.kubernetes.api.model.apiextensions.v1.CustomResourceDefinition;
import io.fabric8.kubernetes.client.KubernetesClient;
import io.fabric8.kubernetes.client.dsl.base.ResourceDefinitionContext;
import io.fabric8.kubernetes.client.utils.Serialization;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import java.util.Map;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * kube-apiserver defaults what it reads from storage, so transition rules see a stored object with
 * the defaults of the CRD installed now. The embedded API must too: an object stored before a CRD
 * upgrade added a default (here spec.preallocate's) stays updatable, although the build-time rule
 * compares has(self.preallocate) with has(oldSelf.preallocate).
 */
class EmbeddedApiDefaultsStoredObjectsTest {
  static final Path CURRENT = Path.of("crds/virtualdisks.xenvbd.io.yaml");
  static final ResourceDefinitionContext VIRTUAL_DISKS =
      new ResourceDefinitionContext.Builder()
          .withGroup("xenvbd.io")
          .withVersion("v1alpha1")
          .withPlural("virtualdisks")
          .withNamespaced(true)
          .build();

  @TempDir Path dir;

  @Test
  void anObjectStoredBeforeADefaultWasAddedStaysUpdatable() throws Exception {
    String current = Files.readString(CURRENT);
    String withoutDefault =
        current.replace(
            "              preallocate:\n                default: false\n",
            "              preallocate:\n");
    assertThat(withoutDefault).as("the CRD still defaults preallocate").isNotEqualTo(current);
    Path older = Files.writeString(dir.resolve("older-virtualdisks.yaml"), withoutDefault);
    try (EmbeddedApiServer server = EmbeddedApiServer.start(0, List.of(older));
        KubernetesClient client = server.client()) {
      GenericKubernetesResource vd =
          Serialization.unmarshal(
              "apiVersion: xenvbd.io/v1alpha1\nkind: VirtualDisk\n"
                  + "metadata: {name: old, namespace: default}\nspec: {size: 64Mi}\n",
              GenericKubernetesResource.class);
      GenericKubernetesResource stored =
          client
              .genericKubernetesResources(VIRTUAL_DISKS)
              .inNamespace("default")
              .resource(vd)
              .create();
      assertThat(spec(stored)).doesNotContainKey("preallocate");

      CustomResourceDefinition upgraded =
          Serialization.unmarshal(current, CustomResourceDefinition.class);
      client.apiextensions().v1().customResourceDefinitions().resource(upgraded).update();

      GenericKubernetesResource labelled =
          client
              .genericKubernetesResources(VIRTUAL_DISKS)
              .inNamespace("default")
              .withName("old")
              .edit(
                  r -> {
                    r.getMetadata().setLabels(Map.of("team", "storage"));
                    return r;
                  });
      assertThat(labelled.getMetadata().getLabels()).containsEntry("team", "storage");
      assertThat(spec(labelled)).containsEntry("preallocate", false);
    }
  }

  @SuppressWarnings("unchecked")
  private static Map<String, Object> spec(GenericKubernetesResource r) {
    return (Map<String, Object>) r.getAdditionalProperties().get("spec");
  }
}
