package io.xenvbd.operator;

import io.fabric8.kubernetes.api.model.Condition;
import io.fabric8.kubernetes.api.model.ObjectMetaBuilder;
import io.fabric8.kubernetes.client.KubernetesClient;
import io.fabric8.kubernetes.client.KubernetesClientException;
import io.fabric8.kubernetes.client.dsl.base.PatchContext;
import io.fabric8.kubernetes.client.dsl.base.PatchType;
import io.xenvbd.api.Dom0Node;
import java.util.List;

/**
 * The operator's one way of writing a Dom0Node's conditions (Ready=Unknown when heartbeats stop,
 * Drained on a draining node): a merge patch of status.conditions alone, so what else the agent
 * wrote stays as it is, with the resourceVersion the conditions were computed from as a
 * precondition. The list written is the one read with one condition set, so a write made from a
 * stale copy would put back what another writer (the agent's heartbeat, the other operator task)
 * changed meanwhile; the precondition turns that into a 409 instead, and the caller judges the new
 * state on its next pass.
 */
final class NodeConditions {
  private NodeConditions() {}

  /** True when written; false when the node changed (409) or is gone (404) since it was read. */
  static boolean write(KubernetesClient client, Dom0Node node, List<Condition> conditions) {
    var json = client.getKubernetesSerialization();
    String patch =
        "{\"metadata\":{\"resourceVersion\":"
            + json.asJson(node.getMetadata().getResourceVersion())
            + "},\"status\":{\"conditions\":"
            + json.asJson(conditions)
            + "}}";
    Dom0Node ref = new Dom0Node();
    ref.setMetadata(new ObjectMetaBuilder().withName(node.getMetadata().getName()).build());
    try {
      client
          .resource(ref)
          .subresource("status")
          .patch(PatchContext.of(PatchType.JSON_MERGE), patch);
      return true;
    } catch (KubernetesClientException e) {
      if (e.getCode() == 409 || e.getCode() == 404) return false;
      throw e;
    }
  }
}
