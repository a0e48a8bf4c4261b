package io.xenvbd.kube;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.node.ObjectNode;
import java.util.ArrayList;
import java.util.Iterator;
import java.util.List;
import java.util.Set;

/**
 * What kube-apiserver does to a custom resource before validating it: schema defaults are set where
 * the enclosing object exists (never creating parents), and unknown fields are pruned as a
 * structural schema prunes them (unless x-kubernetes-preserve-unknown-fields).
 */
public final class SchemaDefaults {
  private static final Set<String> ROOT_KEEP = Set.of("apiVersion", "kind", "metadata");

  private SchemaDefaults() {}

  public static void applyDefaults(JsonNode schema, JsonNode value) {
    if (schema == null || value == null) {
      return;
    }
    if (value.isObject()) {
      ObjectNode o = (ObjectNode) value;
      schema
          .path("properties")
          .fields()
          .forEachRemaining(
              p -> {
                if (!o.has(p.getKey()) && p.getValue().has("default")) {
                  o.set(p.getKey(), p.getValue().get("default").deepCopy());
                }
                applyDefaults(p.getValue(), o.get(p.getKey()));
              });
      if (schema.path("additionalProperties").isObject()) {
        o.forEach(v -> applyDefaults(schema.get("additionalProperties"), v));
      }
    } else if (value.isArray()) {
      value.forEach(item -> applyDefaults(schema.get("items"), item));
    }
  }

  /**
   * Removes unknown fields and returns their paths (spec.foo), for warnings or strict rejection.
   */
  public static List<String> prune(JsonNode schema, JsonNode object) {
    List<String> pruned = new ArrayList<>();
    prune(schema, object, "", true, pruned);
    return pruned;
  }

  private static void prune(
      JsonNode schema, JsonNode value, String path, boolean root, List<String> pruned) {
    if (schema == null
        || value == null
        || schema.path("x-kubernetes-preserve-unknown-fields").asBoolean()) {
      return;
    }
    if (value.isObject()) {
      JsonNode props = schema.path("properties");
      JsonNode additional = schema.get("additionalProperties");
      for (Iterator<String> it = value.fieldNames(); it.hasNext(); ) {
        String k = it.next();
        String child = path.isEmpty() ? k : path + "." + k;
        if (root && ROOT_KEEP.contains(k)) {
          continue;
        }
        if (props.has(k)) {
          prune(props.get(k), value.get(k), child, false, pruned);
        } else if (additional != null && additional.isObject()) {
          prune(additional, value.get(k), child, false, pruned);
        } else if (additional == null || !additional.asBoolean(false)) {
          pruned.add(child);
          it.remove();
        }
      }
    } else if (value.isArray()) {
      for (int i = 0; i < value.size(); i++) {
        prune(schema.get("items"), value.get(i), path + "[" + i + "]", false, pruned);
      }
    }
  }
}
