package io.xenvbd.kube;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.node.ArrayNode;
import com.fasterxml.jackson.databind.node.ObjectNode;
import java.time.Instant;
import java.time.temporal.ChronoUnit;
import java.util.ArrayList;
import java.util.Iterator;
import java.util.LinkedHashSet;
import java.util.List;
import java.util.Map;
import java.util.Set;

/**
 * Server-side apply, simplified: the applied configuration is merged in (lists are atomic, as our
 * CRDs declare no list types, except metadata.finalizers, a set), fields this field manager applied
 * before and has now dropped are removed, and what it applied is recorded in metadata.managedFields
 * (FieldsV1). No conflict detection between managers: force is implied.
 */
final class Apply {
  private static final Set<String> IDENTITY = Set.of("apiVersion", "kind");

  private Apply() {}

  /**
   * @param current the stored object
   * @param applied the applied configuration (JSON from the YAML body)
   * @param status true for the status subresource: only .status is applied
   */
  static JsonNode apply(JsonNode current, JsonNode applied, String manager, boolean status) {
    ObjectNode config = ownedPart(applied, status);
    ObjectNode owned = fieldsOf(config);
    ObjectNode result = ((ObjectNode) current).deepCopy();
    ArrayNode managed = Json.metadata(result).withArray("managedFields");
    ObjectNode previous = null;
    for (Iterator<JsonNode> it = managed.elements(); it.hasNext(); ) {
      JsonNode entry = it.next();
      if (manager.equals(entry.path("manager").asText())
          && "Apply".equals(entry.path("operation").asText())
          && status == "status".equals(entry.path("subresource").asText())) {
        previous = (ObjectNode) entry.path("fieldsV1");
        it.remove();
      }
    }
    List<String> oldFinalizers = new ArrayList<>();
    current.path("metadata").path("finalizers").forEach(f -> oldFinalizers.add(f.asText()));
    if (previous != null) {
      removeDropped(result, previous, owned);
    }
    ObjectNode merged = (ObjectNode) MergePatch.merge(result, withoutNulls(config));
    mergeFinalizers(merged, oldFinalizers, config);
    ObjectNode entry = Json.metadata(merged).withArray("managedFields").addObject();
    entry
        .put("manager", manager)
        .put("operation", "Apply")
        .put("apiVersion", Json.text(applied, "apiVersion"))
        .put("time", Instant.now().truncatedTo(ChronoUnit.SECONDS).toString())
        .put("fieldsType", "FieldsV1");
    entry.set("fieldsV1", owned);
    if (status) {
      entry.put("subresource", "status");
    }
    return merged;
  }

  private static ObjectNode ownedPart(JsonNode applied, boolean status) {
    ObjectNode config = Json.object();
    applied
        .fields()
        .forEachRemaining(
            e -> {
              boolean isStatus = e.getKey().equals("status");
              if (!IDENTITY.contains(e.getKey())
                  && isStatus == status
                  && !e.getKey().equals("metadata")) {
                config.set(e.getKey(), e.getValue());
              }
            });
    if (!status && applied.has("metadata")) {
      ObjectNode meta = Json.object();
      for (String f : List.of("labels", "annotations", "finalizers", "ownerReferences")) {
        if (applied.path("metadata").has(f)) {
          meta.set(f, applied.path("metadata").get(f));
        }
      }
      // A real server records no f:metadata for an apply that names the object and owns nothing in
      // it.
      if (!meta.isEmpty()) {
        config.set("metadata", meta);
      }
    }
    return config;
  }

  /** FieldsV1: {"f:spec":{"f:size":{}}}; lists and scalars are leaves. */
  static ObjectNode fieldsOf(JsonNode config) {
    ObjectNode fields = Json.object();
    config
        .fields()
        .forEachRemaining(
            e -> {
              if (!e.getValue().isNull()) {
                fields.set(
                    "f:" + e.getKey(),
                    e.getValue().isObject() && !e.getValue().isEmpty()
                        ? fieldsOf(e.getValue())
                        : Json.object());
              }
            });
    return fields;
  }

  private static void removeDropped(ObjectNode object, JsonNode previous, JsonNode now) {
    for (Iterator<Map.Entry<String, JsonNode>> it = previous.fields(); it.hasNext(); ) {
      Map.Entry<String, JsonNode> e = it.next();
      String key = e.getKey().substring(2);
      if (key.equals("finalizers") || !object.has(key)) {
        continue;
      }
      if (!now.has(e.getKey())) {
        object.remove(key);
      } else if (e.getValue().size() > 0 && object.get(key).isObject()) {
        removeDropped((ObjectNode) object.get(key), e.getValue(), now.get(e.getKey()));
        if (object.get(key).isEmpty() && now.get(e.getKey()).isEmpty()) {
          object.remove(key);
        }
      }
    }
  }

  /**
   * Finalizers are a set shared by several owners: an apply adds its entries and never drops
   * another's (removal goes through update or patch, as java-operator-sdk does).
   */
  private static void mergeFinalizers(ObjectNode merged, List<String> old, JsonNode config) {
    JsonNode applied = config.path("metadata").path("finalizers");
    if (old.isEmpty() && applied.isMissingNode()) {
      return;
    }
    Set<String> mine = new LinkedHashSet<>();
    applied.forEach(f -> mine.add(f.asText()));
    Set<String> result = new LinkedHashSet<>(old);
    result.addAll(mine);
    ArrayNode out = Json.metadata(merged).putArray("finalizers");
    result.forEach(out::add);
    if (result.isEmpty()) {
      Json.metadata(merged).remove("finalizers");
    }
  }

  private static JsonNode withoutNulls(JsonNode node) {
    if (!node.isObject()) {
      return node;
    }
    ObjectNode out = Json.object();
    node.fields()
        .forEachRemaining(
            e -> {
              if (!e.getValue().isNull()) {
                out.set(e.getKey(), withoutNulls(e.getValue()));
              }
            });
    return out;
  }
}
