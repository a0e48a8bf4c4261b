package io.xenvbd.operator;

import io.fabric8.kubernetes.api.model.ObjectMetaBuilder;
import io.fabric8.kubernetes.client.KubernetesClient;
import io.fabric8.kubernetes.client.dsl.base.PatchContext;
import io.fabric8.kubernetes.client.dsl.base.PatchType;
import io.xenvbd.api.VirtualDisk;
import io.xenvbd.api.VirtualDiskStatus;
import java.util.Map;
import java.util.Optional;
import java.util.concurrent.ConcurrentHashMap;

/**
 * The one way the operator writes a VirtualDisk's status, in reconcile and in cleanup alike: a JSON
 * Patch that sets the whole {@code /status} on the status subresource. There is no other path
 * (docs/operator.md, "Status write path", says why not server-side apply).
 *
 * <p>Setting the whole status is correct because the operator is its only writer (one leader), and
 * it is exact: what was written is what the object carries, whatever wrote the status before (an
 * older operator by either path, a person with {@code kubectl patch --subresource=status}). A
 * server-side apply removes a dropped field only where this manager is its sole owner, and the
 * SDK's own non-SSA status patch diffs against the cached object, whose {@code replace} operations
 * fail when that copy is a step behind the server (measured against the CRUD mock: 50 disks).
 *
 * <p>It also remembers the last status it wrote per disk: the informer cache may not show it yet,
 * and the next reconcile must build on what was really written (its node, above all).
 *
 * <p>This is not java-operator-sdk's own cache ({@code PrimaryUpdateAndCacheUtils}, which hands the
 * patched object to the controller's {@code TemporaryResourceCache}) because in 5.2.3 that cache is
 * ordered by resourceVersion: with the default {@code parseResourceVersions=false} any informer
 * event for the disk evicts the entry, so the late event of an earlier write (adding the finalizer,
 * the placement) brings back an older status, and the next reconcile can build on a disk without
 * its node: placing it again and repeating its Scheduled and ProvisioningStarted events. Only the
 * operator-wide {@code withParseResourceVersions(true)} closes that gap, and then only where
 * resourceVersions are integers (Kubernetes calls them opaque; a non-numeric one falls back to
 * evicting). Its {@code updateAndCacheResource} also answers a 409 or 422 by retrying and waiting
 * up to 10 s for the cache to change, where this writer fails at once into the SDK's retry. Keyed
 * by uid and holding only what this process wrote, this cache needs neither.
 */
final class StatusWriter {
  private final KubernetesClient client;
  private final Map<String, VirtualDiskStatus> written = new ConcurrentHashMap<>();

  StatusWriter(KubernetesClient client) {
    this.client = client;
  }

  /** The newest status of this disk: what this process last wrote, else what the object carries. */
  VirtualDiskStatus current(VirtualDisk disk) {
    return Optional.ofNullable(written.get(disk.getMetadata().getUid())).orElse(disk.getStatus());
  }

  void write(VirtualDisk disk, VirtualDiskStatus status) {
    if (status.equals(current(disk))) return;
    String json = client.getKubernetesSerialization().asJson(status);
    client
        .resource(reference(disk))
        .subresource("status")
        .patch(
            PatchContext.of(PatchType.JSON),
            "[{\"op\":\"add\",\"path\":\"/status\",\"value\":" + json + "}]");
    written.put(disk.getMetadata().getUid(), status);
  }

  /**
   * Name and namespace only. Patching through a named resource without an item makes the fabric8
   * client GET the object first (one extra request per patch); the patch text itself is complete.
   */
  private static VirtualDisk reference(VirtualDisk disk) {
    VirtualDisk ref = new VirtualDisk();
    ref.setMetadata(
        new ObjectMetaBuilder()
            .withName(disk.getMetadata().getName())
            .withNamespace(disk.getMetadata().getNamespace())
            .build());
    return ref;
  }

  /** The disk is gone. */
  void forget(String uid) {
    written.remove(uid);
  }
}
