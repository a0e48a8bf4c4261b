package io.xenvbd.bench;

import io.fabric8.kubernetes.client.KubernetesClient;
import io.fabric8.kubernetes.client.utils.KubernetesSerialization;
import io.xenvbd.api.VirtualDisk;
import io.xenvbd.testing.Manifests;
import java.nio.file.Path;

/** The VirtualDisks the benchmarks apply, written as the YAML a user would apply. */
final class Disks {
  private Disks() {}

  /** An empty disk: nothing but the filesystem (or a raw file for {@code none}). */
  static String empty(String name, String size, String fs) {
    return Manifests.disk(name, size, "filesystem: " + fs + "\nreclaimPolicy: Delete");
  }

  /**
   * The recipe as a VirtualDisk: the source tree copied to the image's root (as the recipe's cp -ax
   * does), /proc /sys /home /tmp made, hostname and an fstab with the recipe's /dev/sda1 line.
   */
  static String recipe(String name, String size, String fs, String method, Path source) {
    return Manifests.disk(
        name,
        size,
        """
        filesystem: %s
        reclaimPolicy: Delete
        populate:
          method: %s
          hostPaths: [{path: "%s", target: /}]
          createDirs: [/proc, /sys, /home, /tmp]
        tailor:
          hostname: vm1
          fstab: [{device: /dev/sda1, mountPoint: /, type: %s, options: defaults, dump: 1, pass: 1}]
        xen: {vdev: sda1, access: rw}
        """
            .formatted(fs, method, source, fs));
  }

  private static final KubernetesSerialization SERIALIZATION = new KubernetesSerialization();

  static VirtualDisk parse(String yaml) {
    return SERIALIZATION.unmarshal(yaml, VirtualDisk.class);
  }

  static VirtualDisk create(KubernetesClient client, String yaml) {
    return client.resource(parse(yaml)).create();
  }

  static void delete(KubernetesClient client, String name) {
    client.resources(VirtualDisk.class).inNamespace("default").withName(name).delete();
  }
}
