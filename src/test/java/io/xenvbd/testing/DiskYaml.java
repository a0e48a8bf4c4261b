package io.xenvbd.testing;

/** The VirtualDisk manifest the end-to-end tests and benchmarks apply, as a user writes it. */
public final class DiskYaml {
  private DiskYaml() {}

  /** A VirtualDisk in namespace default; {@code specYaml} is more YAML under spec (may be empty). */
  public static String disk(String name, String size, String specYaml) {
    return """
        apiVersion: xenvbd.io/v1alpha1
        kind: VirtualDisk
        metadata: {name: %s, namespace: default}
        spec:
          size: %s
        %s
        """.formatted(name, size, specYaml.indent(2));
  }
}
