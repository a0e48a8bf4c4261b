package io.xenvbd.testing;

/**
 * The VirtualDisk manifests the tests and benchmarks apply, as a user writes them: the one source
 * of YAML fixtures (unit tests that need Java objects build them in their package's Fixtures).
 */
public final class Manifests {
  private Manifests() {}

  /**
   * A VirtualDisk in namespace default; {@code specYaml} is more YAML under spec (may be empty).
   */
  public static String disk(String name, String size, String specYaml) {
    return """
        apiVersion: xenvbd.io/v1alpha1
        kind: VirtualDisk
        metadata: {name: %s, namespace: default}
        spec:
          size: %s
        %s
        """
        .formatted(name, size, specYaml.indent(2));
  }

  /**
   * A VirtualDisk in {@code namespace} whose whole spec is {@code specYaml} (which may be invalid).
   */
  public static String diskIn(String namespace, String name, String specYaml) {
    return """
        apiVersion: xenvbd.io/v1alpha1
        kind: VirtualDisk
        metadata: {name: %s, namespace: %s}
        spec:
        %s
        """
        .formatted(name, namespace, specYaml.indent(2));
  }

  /**
   * The manual recipe as a VirtualDisk: the cp -ax copy of /etc and /usr, fstab, hostname, vdev
   * sda1.
   */
  public static String vm1disk(String name, String size, String filesystem) {
    return """
        apiVersion: xenvbd.io/v1alpha1
        kind: VirtualDisk
        metadata:
          name: %s
        spec:
          size: "%s"
          filesystem: %s
          populate:
            hostPaths:
            - path: /etc
            - path: /usr
            createDirs: [/proc, /sys, /home, /tmp]
          tailor:
            hostname: vm1
            fstab:
            - device: self
              mountPoint: /
              type: ext3
          xen:
            vdev: sda1
            access: rw
        """
        .formatted(name, size, filesystem);
  }
}
