package io.xenvbd.kube;

/** VirtualDisk manifests for the tests: the seed recipe's disk, and variants of it. */
final class Fixtures {
  private Fixtures() {}

  /** The manual recipe as a VirtualDisk: 2Gi ext3, the cp -ax copy, fstab, hostname, vdev sda1. */
  static String vm1disk(String name, String size, String filesystem) {
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
        """.formatted(name, size, filesystem);
  }
}
