package io.xenvbd.kube;

import com.fasterxml.jackson.databind.JsonNode;
import java.util.ArrayList;
import java.util.List;
import java.util.Optional;

/**
 * The CustomResourceDefinitions in the store, looked up by group and plural. Every request needs
 * them (admission, status subresource, tables); they are read from the store again only after one
 * changed, not on every request (a list of all stored objects and a parse of each CRD each time).
 * The returned nodes are shared: read them, never change them.
 */
final class CrdRegistry {
  static final String PATH = "/apis/apiextensions.k8s.io/v1/customresourcedefinitions";

  private record Snapshot(long changes, List<JsonNode> crds) {}

  private final CrudStore store;
  private volatile Snapshot snapshot = new Snapshot(-1, List.of());

  CrdRegistry(CrudStore store) {
    this.store = store;
  }

  List<JsonNode> all() {
    Snapshot s = snapshot;
    long changes = store.crdChanges();
    if (s.changes() == changes) {
      return s.crds();
    }
    List<JsonNode> out = new ArrayList<>();
    JsonNode list = store.call("GET", PATH, null, null).json();
    if (list != null) {
      list.path("items").forEach(out::add);
    }
    snapshot = new Snapshot(changes, List.copyOf(out));
    return snapshot.crds();
  }

  Optional<JsonNode> find(String group, String plural) {
    return all().stream()
        .filter(
            c ->
                group.equals(Json.text(c, "spec", "group"))
                    && plural.equals(Json.text(c, "spec", "names", "plural")))
        .findFirst();
  }

  /** The version entry of a CRD (its schema, printer columns, subresources). */
  static Optional<JsonNode> version(JsonNode crd, String version) {
    for (JsonNode v : crd.path("spec").path("versions")) {
      if (version.equals(v.path("name").asText())) {
        return Optional.of(v);
      }
    }
    return Optional.empty();
  }

  static String kind(JsonNode crd) {
    return Json.text(crd, "spec", "names", "kind");
  }
}
