package io.xenvbd.operator;

import io.fabric8.kubernetes.client.KubernetesClient;
import io.fabric8.kubernetes.client.dsl.base.PatchContext;
import io.fabric8.kubernetes.client.dsl.base.PatchType;
import io.xenvbd.api.VirtualDisk;
import io.xenvbd.api.VirtualDiskStatus;

/**
 * Writes status outside a reconcile's UpdateControl, which a Cleaner cannot return: the same kind of
 * patch the operator SDK sends for the primary (server-side apply, or a JSON patch against the object
 * as read), chosen by the same setting, so deletion and reconcile write status the same way.
 */
final class StatusWriter {
  private final KubernetesClient client;
  private final boolean useSsa;

  StatusWriter(KubernetesClient client, boolean useSsa) {
    this.client = client;
    this.useSsa = useSsa;
  }

  void write(VirtualDisk disk, VirtualDiskStatus status) {
    if (status.equals(disk.getStatus())) return;
    if (useSsa) {
      VirtualDisk apply = new VirtualDisk();
      apply.setMetadata(new io.fabric8.kubernetes.api.model.ObjectMetaBuilder()
          .withName(disk.getMetadata().getName()).withNamespace(disk.getMetadata().getNamespace()).build());
      apply.setStatus(status);
      client.resource(apply).subresource("status").patch(new PatchContext.Builder().withForce(true)
          .withFieldManager(XenvbdOperator.FIELD_MANAGER).withPatchType(PatchType.SERVER_SIDE_APPLY).build());
    } else {
      client.resource(disk).editStatus(current -> {
        current.setStatus(status);
        return current;
      });
    }
  }
}
