package io.xenvbd.kube;

import com.fasterxml.jackson.databind.JsonNode;
import java.util.ArrayList;
import java.util.List;
import java.util.Optional;

/** The CustomResourceDefinitions in the store, looked up by group and plural. */
final class CrdRegistry {
  static final String PATH = "/apis/apiextensions.k8s.io/v1/customresourcedefinitions";
  private final CrudStore store;

  CrdRegistry(CrudStore store) {
    this.store = store;
  }

  List<JsonNode> all() {
    List<JsonNode> out = new ArrayList<>();
    JsonNode list = store.call("GET", PATH, null, null).json();
    if (list != null) {
      list.path("items").forEach(out::add);
    }
    return out;
  }

  Optional<JsonNode> find(String group, String plural) {
    return all().stream()
        .filter(c -> group.equals(Json.text(c, "spec", "group")) && plural.equals(Json.text(c, "spec", "names", "plural")))
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
