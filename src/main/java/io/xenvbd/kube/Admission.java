package io.xenvbd.kube;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.node.ObjectNode;
import java.util.ArrayList;
import java.util.List;
import java.util.Optional;

/**
 * kube-apiserver's admission of a custom resource write, in its order: prune unknown fields
 * (rejected instead under fieldValidation=Strict, kubectl's default), apply schema defaults,
 * validate the schema, then the CEL rules (with the stored object as oldSelf on update).
 */
final class Admission {
  record Result(JsonNode object, List<String> warnings) {}

  private final CrdRegistry crds;
  private final SchemaValidator schemas = new SchemaValidator();
  private final CelValidator cel = new CelValidator();

  Admission(CrdRegistry crds) {
    this.crds = crds;
  }

  Result admit(ResourcePath rp, JsonNode object, JsonNode old, String fieldValidation) {
    Optional<JsonNode> found = crds.find(rp.group(), rp.plural());
    JsonNode schema = found.map(c -> SchemaValidator.schemaOf(c, rp.version())).orElse(null);
    if (schema == null) {
      return new Result(object, List.of());
    }
    JsonNode crd = found.get();
    String kind = CrdRegistry.kind(crd);
    String name = Json.text(object, "metadata", "name");
    List<String> unknown =
        SchemaDefaults.prune(schema, object).stream()
            .map(f -> "unknown field \"" + f + "\"")
            .toList();
    if (!unknown.isEmpty() && "Strict".equalsIgnoreCase(fieldValidation)) {
      throw new ApiException(
          400,
          "BadRequest",
          kind
              + " in version \""
              + rp.version()
              + "\" cannot be handled as a "
              + kind
              + ": strict decoding error: "
              + String.join(", ", unknown));
    }
    SchemaDefaults.applyDefaults(schema, object);
    List<FieldError> errors = new ArrayList<>();
    if ((name == null || name.isEmpty()) && Json.text(object, "metadata", "generateName") == null) {
      errors.add(
          new FieldError(
              "metadata.name",
              "FieldValueRequired",
              "Required value: name or generateName is required"));
    }
    errors.addAll(schemas.validate(crd, object));
    errors.addAll(cel.validate(schema, object, defaulted(schema, old)));
    if (!errors.isEmpty()) {
      throw ApiException.invalid(kind, rp, name, errors);
    }
    return new Result(object, "Ignore".equalsIgnoreCase(fieldValidation) ? List.of() : unknown);
  }

  /**
   * The stored object as kube-apiserver hands it to transition rules: with the schema's defaults
   * applied, as it defaults whatever it reads from storage. Without this, a default added to the
   * CRD after an object was stored would make oldSelf lack a field that self has, and a rule such
   * as {@code has(self.preallocate) == has(oldSelf.preallocate)} would refuse every update.
   */
  private static JsonNode defaulted(JsonNode schema, JsonNode old) {
    if (old == null || !old.isObject()) return old;
    JsonNode copy = old.deepCopy();
    SchemaDefaults.applyDefaults(schema, copy);
    return copy;
  }

  /** Builds the schema validators and CEL programs of every CRD ahead of the first write. */
  void warmUp() {
    for (JsonNode crd : crds.all()) {
      for (JsonNode v : crd.path("spec").path("versions")) {
        JsonNode schema = v.path("schema").get("openAPIV3Schema");
        cel.precompile(schema);
        ObjectNode probe =
            Json.object()
                .put("apiVersion", Json.text(crd, "spec", "group") + "/" + v.path("name").asText())
                .put("kind", CrdRegistry.kind(crd));
        probe.putObject("metadata").put("name", "warm-up");
        schemas.validate(crd, probe);
      }
    }
  }

  /**
   * Self-subject access and rules reviews (java-operator-sdk checks its lease permissions with one
   * before leader election): everything is allowed, as this server has no authorization.
   */
  static JsonNode review(JsonNode review) {
    ObjectNode out = review.deepCopy();
    ObjectNode status = out.putObject("status");
    if ("SelfSubjectRulesReview".equals(Json.text(review, "kind"))) {
      ObjectNode all = status.putArray("resourceRules").addObject();
      all.putArray("verbs").add("*");
      all.putArray("apiGroups").add("*");
      all.putArray("resources").add("*");
      status.putArray("nonResourceRules").addObject().putArray("verbs").add("*");
      status.put("incomplete", false);
    } else {
      status.put("allowed", true);
    }
    return out;
  }

  boolean hasStatusSubresource(ResourcePath rp) {
    return crds.find(rp.group(), rp.plural())
        .flatMap(c -> CrdRegistry.version(c, rp.version()))
        .map(v -> v.path("subresources").has("status"))
        .orElse(false);
  }

  Optional<JsonNode> crd(ResourcePath rp) {
    return crds.find(rp.group(), rp.plural());
  }
}
