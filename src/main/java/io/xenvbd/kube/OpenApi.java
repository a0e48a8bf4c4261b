package io.xenvbd.kube;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.node.ObjectNode;

/**
 * Just enough OpenAPI v3 for kubectl: one document (api/v1) whose Namespace PATCH declares the
 * {@code fieldValidation} parameter, so kubectl leaves validation to this server instead of
 * downloading schemas. /openapi/v2 is not served (404), which kubectl accepts.
 */
final class OpenApi {
  private OpenApi() {}

  static JsonNode answer(String path) {
    if (path.equals("/openapi/v3") || path.equals("/openapi/v3/")) {
      ObjectNode root = Json.object();
      root.putObject("paths").putObject("api/v1").put("serverRelativeURL", "/openapi/v3/api/v1?hash=xenvbd");
      return root;
    }
    if (path.equals("/openapi/v3/api/v1")) {
      ObjectNode doc = Json.object().put("openapi", "3.0.0");
      doc.putObject("info").put("title", "xenvbd embedded API").put("version", "v1");
      ObjectNode patch = doc.putObject("paths").putObject("/api/v1/namespaces/{name}").putObject("patch");
      patch.putObject("x-kubernetes-group-version-kind").put("group", "").put("version", "v1").put("kind", "Namespace");
      patch.put("x-kubernetes-action", "patch");
      patch.putArray("parameters").addObject().put("name", "fieldValidation").put("in", "query")
          .putObject("schema").put("type", "string");
      doc.putObject("components").putObject("schemas");
      return doc;
    }
    return null;
  }
}
