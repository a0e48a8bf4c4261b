package io.xenvbd.kube;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.node.ArrayNode;
import com.fasterxml.jackson.databind.node.ObjectNode;
import java.net.URLEncoder;
import java.nio.charset.StandardCharsets;
import java.util.ArrayList;
import java.util.List;

/** GET of one object or a list, with label and field selectors, optionally as a Table. */
final class Reads {
  private final CrudStore store;
  private final Admission admission;

  Reads(CrudStore store, Admission admission) {
    this.store = store;
    this.admission = admission;
  }

  ApiHandler.Reply get(ResourcePath rp, Query q, String accept) {
    if (rp.name() != null) {
      JsonNode o = store.get(rp.objectPath());
      if (o == null) {
        throw ApiException.notFound(rp);
      }
      return new ApiHandler.Reply(200, Tables.wanted(accept) ? table(rp, List.of(o), rv(o)) : o);
    }
    String labels = q.get("labelSelector");
    String path =
        rp.collectionPath()
            + (labels == null || labels.isEmpty()
                ? ""
                : "?labelSelector=" + URLEncoder.encode(labels, StandardCharsets.UTF_8));
    JsonNode list = store.call("GET", path, null, null).json();
    FieldSelector fields = FieldSelector.parse(q.get("fieldSelector"));
    List<JsonNode> items = new ArrayList<>();
    list.path("items")
        .forEach(
            i -> {
              if (fields.matches(i)) {
                items.add(i);
              }
            });
    String resourceVersion = Json.text(list, "metadata", "resourceVersion");
    if (Tables.wanted(accept)) {
      return new ApiHandler.Reply(200, table(rp, items, resourceVersion));
    }
    ObjectNode out = Json.object();
    out.put("apiVersion", rp.apiVersion());
    // Typed clients (kubectl describe's event search) decode only a list of the right kind.
    String kind =
        admission
            .crd(rp)
            .map(CrdRegistry::kind)
            .orElse(Discovery.builtInKind(rp.apiVersion(), rp.plural()));
    out.put("kind", kind == null ? "List" : kind + "List");
    out.putObject("metadata").put("resourceVersion", resourceVersion);
    ArrayNode arr = out.putArray("items");
    items.forEach(arr::add);
    return new ApiHandler.Reply(200, out);
  }

  ObjectNode table(ResourcePath rp, List<JsonNode> objects, String resourceVersion) {
    return Tables.table(
        admission.crd(rp).orElse(null), rp.plural(), rp.version(), objects, resourceVersion);
  }

  private static String rv(JsonNode o) {
    return Json.text(o, "metadata", "resourceVersion");
  }
}
