package io.xenvbd.kube;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.node.ObjectNode;
import io.fabric8.zjsonpatch.JsonPatch;
import java.util.Iterator;
import java.util.Map;

/**
 * The patch formats kube-apiserver accepts for custom resources: RFC 7386 JSON merge patch (arrays
 * replaced, null deletes; strategic merge patch is treated the same, as CRDs do) and RFC 6902 JSON
 * patch.
 */
final class MergePatch {
  static final String MERGE = "application/merge-patch+json";
  static final String STRATEGIC = "application/strategic-merge-patch+json";
  static final String JSON_PATCH = "application/json-patch+json";
  static final String APPLY = "application/apply-patch+yaml";

  private MergePatch() {}

  /** RFC 7386: returns the target with the patch merged in (the target is not modified). */
  static JsonNode merge(JsonNode target, JsonNode patch) {
    if (!patch.isObject()) {
      return patch.deepCopy();
    }
    ObjectNode result =
        target != null && target.isObject() ? ((ObjectNode) target).deepCopy() : Json.object();
    for (Iterator<Map.Entry<String, JsonNode>> it = patch.fields(); it.hasNext(); ) {
      Map.Entry<String, JsonNode> e = it.next();
      if (e.getValue().isNull()) {
        result.remove(e.getKey());
      } else {
        result.set(e.getKey(), merge(result.get(e.getKey()), e.getValue()));
      }
    }
    return result;
  }

  static JsonNode jsonPatch(JsonNode target, JsonNode patch) {
    try {
      return JsonPatch.apply(patch, target);
    } catch (RuntimeException e) {
      throw new ApiException(
          422, "Invalid", "the JSON patch could not be applied: " + e.getMessage());
    }
  }

  static String mediaType(String contentType) {
    return contentType == null ? "" : contentType.split(";")[0].trim().toLowerCase();
  }
}
