package io.xenvbd.apiserver;

import io.fabric8.kubernetes.api.model.GenericKubernetesResource;
import io.fabric8.kubernetes.client.utils.Serialization;

/** VirtualDisk manifests written as a user writes them. */
final class VirtualDisks {
  private VirtualDisks() {}

  /** {@link #yaml} as the object a client sends. */
  static GenericKubernetesResource of(String name, String specYaml) {
    return Serialization.unmarshal(yaml(name, specYaml), GenericKubernetesResource.class);
  }

  /**
   * A VirtualDisk named {@code name} whose spec is {@code specYaml} (lines at spec level, no
   * indent).
   */
  static String yaml(String name, String specYaml) {
    return """
        apiVersion: xenvbd.io/v1alpha1
        kind: VirtualDisk
        metadata:
          name: %s
        spec:
        %s
        """
        .formatted(name, specYaml.strip().indent(2).stripTrailing());
  }
}
