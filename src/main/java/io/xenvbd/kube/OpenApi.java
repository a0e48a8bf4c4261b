package io.xenvbd.kube;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.node.ObjectNode;
import java.nio.charset.StandardCharsets;
import java.security.MessageDigest;
import java.security.NoSuchAlgorithmException;
import java.util.HexFormat;
import java.util.LinkedHashMap;
import java.util.Map;

/**
 * OpenAPI v3 as kubectl reads it: one document for api/v1, whose Namespace PATCH declares the
 * {@code fieldValidation} parameter (so kubectl leaves validation to this server), and one per
 * served CRD group version, built as the real API server builds it: each kind's schema is the CRD's
 * own openAPIV3Schema with apiVersion, kind and metadata added, tagged with its group-version-kind,
 * so that {@code kubectl explain vd.spec.populate} works. Each PATCH declares {@code
 * fieldValidation} too. /openapi/v2 is not served (404), which kubectl accepts.
 */
final class OpenApi {
  private static final String PREFIX = "/openapi/v3/";
  private final CrdRegistry crds;

  OpenApi(CrdRegistry crds) {
    this.crds = crds;
  }

  /** The document for this path, or null. */
  JsonNode answer(String path) {
    Map<String, ObjectNode> docs = documents();
    if (path.equals("/openapi/v3") || path.equals("/openapi/v3/")) {
      ObjectNode root = Json.object();
      ObjectNode paths = root.putObject("paths");
      docs.forEach(
          (gv, doc) ->
              paths.putObject(gv).put("serverRelativeURL", PREFIX + gv + "?hash=" + hash(doc)));
      return root;
    }
    return path.startsWith(PREFIX) ? docs.get(path.substring(PREFIX.length())) : null;
  }

  private Map<String, ObjectNode> documents() {
    Map<String, ObjectNode> docs = new LinkedHashMap<>();
    ObjectNode core = document("Kubernetes", "v1");
    patchPath(core, "/api/v1/namespaces/{name}", "", "v1", "Namespace");
    docs.put("api/v1", core);
    for (JsonNode crd : crds.all()) {
      String group = Json.text(crd, "spec", "group");
      String kind = CrdRegistry.kind(crd);
      String plural = Json.text(crd, "spec", "names", "plural");
      boolean namespaced = "Namespaced".equals(Json.text(crd, "spec", "scope"));
      for (JsonNode v : crd.path("spec").path("versions")) {
        if (!v.path("served").asBoolean(true)) continue;
        String version = v.path("name").asText();
        ObjectNode doc =
            docs.computeIfAbsent(
                "apis/" + group + "/" + version, k -> document("Kubernetes CRD Swagger", "v0.1.0"));
        String base =
            "/apis/"
                + group
                + "/"
                + version
                + (namespaced ? "/namespaces/{namespace}/" : "/")
                + plural;
        patchPath(doc, base + "/{name}", group, version, kind);
        doc.with("components")
            .with("schemas")
            .set(
                schemaName(group, version, kind),
                kindSchema(v.path("schema").path("openAPIV3Schema"), group, version, kind));
      }
    }
    return docs;
  }

  private static ObjectNode document(String title, String version) {
    ObjectNode doc = Json.object().put("openapi", "3.0.0");
    doc.putObject("info").put("title", title).put("version", version);
    doc.putObject("paths");
    doc.putObject("components").putObject("schemas");
    return doc;
  }

  private static void patchPath(
      ObjectNode doc, String path, String group, String version, String kind) {
    ObjectNode patch = doc.with("paths").putObject(path).putObject("patch");
    // One object on an operation, a list on a schema: as the real server writes them.
    patch
        .putObject("x-kubernetes-group-version-kind")
        .put("group", group)
        .put("kind", kind)
        .put("version", version);
    patch.put("x-kubernetes-action", "patch");
    patch
        .putArray("parameters")
        .addObject()
        .put("name", "fieldValidation")
        .put("in", "query")
        .putObject("schema")
        .put("type", "string");
  }

  /** The real server's name for it: the group reversed (xenvbd.io: io.xenvbd), version, kind. */
  static String schemaName(String group, String version, String kind) {
    String[] parts = group.split("\\.");
    StringBuilder name = new StringBuilder();
    for (int i = parts.length - 1; i >= 0; i--) name.append(parts[i]).append('.');
    return name + version + "." + kind;
  }

  private static ObjectNode kindSchema(
      JsonNode crdSchema, String group, String version, String kind) {
    ObjectNode schema =
        crdSchema.isObject()
            ? ((ObjectNode) crdSchema).deepCopy()
            : Json.object().put("type", "object");
    ObjectNode given =
        schema.has("properties") ? (ObjectNode) schema.get("properties") : Json.object();
    ObjectNode properties = Json.object();
    properties
        .putObject("apiVersion")
        .put("type", "string")
        .put(
            "description",
            "APIVersion defines the versioned schema of this representation of an object. Servers should convert"
                + " recognized schemas to the latest internal value, and may reject unrecognized values. More info:"
                + " https://git.k8s.io/community/contributors/devel/sig-architecture/api-conventions.md#resources");
    properties
        .putObject("kind")
        .put("type", "string")
        .put(
            "description",
            "Kind is a string value representing the REST resource this object represents. Servers may infer this"
                + " from the endpoint the client submits requests to. Cannot be updated. In CamelCase. More info:"
                + " https://git.k8s.io/community/contributors/devel/sig-architecture/api-conventions.md#types-kinds");
    properties
        .putObject("metadata")
        .put("type", "object")
        .put(
            "description",
            "Standard object's metadata. More info:"
                + " https://git.k8s.io/community/contributors/devel/sig-architecture/api-conventions.md#metadata");
    given
        .fields()
        .forEachRemaining(
            f -> {
              if (!properties.has(f.getKey())) properties.set(f.getKey(), f.getValue());
            });
    schema.set("properties", properties);
    schema
        .putArray("x-kubernetes-group-version-kind")
        .addObject()
        .put("group", group)
        .put("kind", kind)
        .put("version", version);
    return schema;
  }

  /** kubectl caches a document by its URL: the hash changes whenever the document does. */
  private static String hash(JsonNode doc) {
    try {
      byte[] digest =
          MessageDigest.getInstance("SHA-256")
              .digest(Json.write(doc).getBytes(StandardCharsets.UTF_8));
      return HexFormat.of().formatHex(digest, 0, 16);
    } catch (NoSuchAlgorithmException e) {
      throw new IllegalStateException(e);
    }
  }
}
