package io.xenvbd.operator;

import io.fabric8.kubernetes.api.model.Condition;
import io.fabric8.kubernetes.api.model.ObjectMetaBuilder;
import io.fabric8.kubernetes.client.KubernetesClient;
import io.fabric8.kubernetes.client.KubernetesClientException;
import io.fabric8.kubernetes.client.dsl.base.PatchContext;
import io.fabric8.kubernetes.client.dsl.base.PatchType;
import io.xenvbd.api.Dom0Node;
import java.util.List;
import java.util.Map;

/**
 * The operator's one way of writing a Dom0Node's conditions (Ready=Unknown when heartbeats stop,
 * Drained on a draining node): a JSON patch of status.conditions alone, so what else the agent
 * wrote stays as it is, that also sets metadata.resourceVersion to the one the conditions were
 * computed from: the API server (kube-apiserver and the embedded API alike) refuses a patched
 * object whose resourceVersion is no longer the stored one, so it is a precondition. The list
 * written is the one read with one condition set, so a write made from a stale copy would put back
 * what another writer (the agent's heartbeat, the other operator task) changed meanwhile; the
 * precondition turns that into a 409 instead, and the caller judges the new state on its next pass.
 */
final class NodeConditions {
  private NodeConditions() {}

  /** True when written; false when the node changed (409) or is gone (404) since it was read. */
  static boolean write(KubernetesClient client, Dom0Node node, List<Condition> conditions) {
    // a JSON patch: a merge patch would do the same on kube-apiserver and the embedded API, but the
    // fabric8 mock server the operator tests run against appends a merge patch's list items
    String patch =
        client
            .getKubernetesSerialization()
            .asJson(
                List.of(
                    Map.of(
                        "op",
                        "replace",
                        "path",
                        "/metadata/resourceVersion",
                        "value",
                        node.getMetadata().getResourceVersion()),
                    Map.of("op", "add", "path", "/status/conditions", "value", conditions)));
    Dom0Node ref = new Dom0Node();
    ref.setMetadata(new ObjectMetaBuilder().withName(node.getMetadata().getName()).build());
    try {
      client.resource(ref).subresource("status").patch(PatchContext.of(PatchType.JSON), patch);
      return true;
    } catch (KubernetesClientException e) {
      if (e.getCode() == 409 || e.getCode() == 404) return false;
      throw e;
    }
  }
}
