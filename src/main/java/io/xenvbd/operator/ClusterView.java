package io.xenvbd.operator;

import io.xenvbd.api.Dom0Node;
import io.xenvbd.api.VirtualDisk;
import java.util.List;
import java.util.Objects;
import java.util.Optional;

/**
 * Read-only view of the cluster the collaborators decide from: the informer caches in production, a
 * plain list of objects in unit tests. Never calls the API server.
 */
interface ClusterView {
  List<Dom0Node> nodes();

  List<VirtualDisk> disks();

  default Optional<Dom0Node> node(String name) {
    if (name == null) return Optional.empty();
    return nodes().stream().filter(n -> name.equals(n.getMetadata().getName())).findFirst();
  }

  default Optional<VirtualDisk> disk(String namespace, String name) {
    return disks().stream()
        .filter(
            d ->
                Objects.equals(namespace, d.getMetadata().getNamespace())
                    && name.equals(d.getMetadata().getName()))
        .findFirst();
  }

  /** Fixed lists, for pure unit tests. */
  static ClusterView of(List<Dom0Node> nodes, List<VirtualDisk> disks) {
    return new ClusterView() {
      @Override
      public List<Dom0Node> nodes() {
        return nodes;
      }

      @Override
      public List<VirtualDisk> disks() {
        return disks;
      }
    };
  }
}
