package io.xenvbd.kube;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.node.ArrayNode;
import com.fasterxml.jackson.databind.node.ObjectNode;
import com.networknt.schema.JsonNodePath;
import com.networknt.schema.JsonSchema;
import com.networknt.schema.JsonSchemaFactory;
import com.networknt.schema.PathType;
import com.networknt.schema.SchemaValidatorsConfig;
import com.networknt.schema.SpecVersion;
import com.networknt.schema.ValidationMessage;
import java.util.ArrayList;
import java.util.Collections;
import java.util.Comparator;
import java.util.IdentityHashMap;
import java.util.Iterator;
import java.util.List;
import java.util.Map;
import java.util.concurrent.ConcurrentHashMap;

/**
 * Validates an object against its CRD's openAPIV3Schema with a real JSON Schema validator
 * (networknt), reporting one {@link FieldError} per field in kube-apiserver's words. The OpenAPI
 * schema is converted first: {@code nullable} becomes a null type, {@code x-kubernetes-*} and
 * annotations are dropped. Defaulting and pruning live in {@link SchemaDefaults}.
 */
public final class SchemaValidator {
  private static final JsonSchemaFactory FACTORY =
      JsonSchemaFactory.getInstance(SpecVersion.VersionFlag.V4);
  private static final SchemaValidatorsConfig CONFIG =
      SchemaValidatorsConfig.builder()
          .pathType(PathType.JSON_PATH)
          .formatAssertionsEnabled(false)
          .build();
  private final Map<String, JsonSchema> compiled = new ConcurrentHashMap<>();

  /**
   * The same, by the schema node itself: {@link CrdRegistry} hands out the same nodes until a CRD
   * changes, so most requests skip serialising the schema to find its compiled form.
   */
  private final Map<JsonNode, JsonSchema> byNode =
      Collections.synchronizedMap(new IdentityHashMap<>());

  /** Field errors of {@code object} (a whole custom resource) against the CRD, in field order. */
  public List<FieldError> validate(JsonNode crd, JsonNode object) {
    JsonNode schema = schemaOf(crd, versionOf(object, crd));
    if (schema == null) {
      return List.of();
    }
    JsonSchema js = byNode.get(schema);
    if (js == null) {
      js =
          compiled.computeIfAbsent(
              Json.write(schema), k -> FACTORY.getSchema(toJsonSchema(schema), CONFIG));
      if (byNode.size() > 64) {
        byNode.clear(); // CRDs changed many times: forget the old nodes
      }
      byNode.put(schema, js);
    }
    List<FieldError> errors = new ArrayList<>();
    for (ValidationMessage m : js.validate(object)) {
      errors.add(toFieldError(m));
    }
    errors.sort(Comparator.comparing(FieldError::field));
    return errors;
  }

  static String versionOf(JsonNode object, JsonNode crd) {
    String apiVersion = Json.text(object, "apiVersion");
    if (apiVersion != null && apiVersion.contains("/")) {
      return apiVersion.substring(apiVersion.indexOf('/') + 1);
    }
    return crd.path("spec").path("versions").path(0).path("name").asText();
  }

  /** The openAPIV3Schema of one version of the CRD, or null. */
  public static JsonNode schemaOf(JsonNode crd, String version) {
    return CrdRegistry.version(crd, version)
        .map(v -> v.path("schema").get("openAPIV3Schema"))
        .orElse(null);
  }

  /** OpenAPI v3 (Kubernetes structural schema) to JSON Schema draft 4. */
  static JsonNode toJsonSchema(JsonNode openApi) {
    if (openApi.isArray()) {
      ArrayNode out = Json.MAPPER.createArrayNode();
      openApi.forEach(n -> out.add(toJsonSchema(n)));
      return out;
    }
    if (!openApi.isObject()) {
      return openApi;
    }
    ObjectNode out = Json.object();
    for (Iterator<Map.Entry<String, JsonNode>> it = openApi.fields(); it.hasNext(); ) {
      Map.Entry<String, JsonNode> e = it.next();
      String k = e.getKey();
      if (k.startsWith("x-kubernetes-")
          || k.equals("nullable")
          || k.equals("description")
          || k.equals("default")
          || k.equals("example")
          || k.equals("format")) {
        continue;
      }
      if (k.equals("properties") || k.equals("patternProperties")) {
        ObjectNode props = out.putObject(k);
        e.getValue()
            .fields()
            .forEachRemaining(p -> props.set(p.getKey(), toJsonSchema(p.getValue())));
      } else if (k.equals("items")
          || k.equals("additionalProperties")
          || k.equals("not")
          || k.equals("allOf")
          || k.equals("anyOf")
          || k.equals("oneOf")) {
        out.set(k, toJsonSchema(e.getValue()));
      } else {
        out.set(k, e.getValue());
      }
    }
    if (openApi.path("x-kubernetes-int-or-string").asBoolean()) {
      out.remove("type");
      ArrayNode any = out.putArray("anyOf");
      any.addObject().put("type", "integer");
      any.addObject().put("type", "string");
    }
    if (openApi.path("nullable").asBoolean() && out.has("type") && out.get("type").isTextual()) {
      ArrayNode types = Json.MAPPER.createArrayNode().add(out.get("type").asText()).add("null");
      out.set("type", types);
    }
    return out;
  }

  static String fieldPath(JsonNodePath path) {
    StringBuilder sb = new StringBuilder();
    for (int i = 0; i < path.getNameCount(); i++) {
      Object el = path.getElement(i);
      if (el instanceof Integer n) {
        sb.append('[').append(n).append(']');
      } else {
        sb.append(sb.length() == 0 ? "" : ".").append(el);
      }
    }
    return sb.toString();
  }

  private static FieldError toFieldError(ValidationMessage m) {
    String field = fieldPath(m.getInstanceLocation());
    JsonNode value = m.getInstanceNode();
    JsonNode schema = m.getSchemaNode();
    String shown =
        value == null
            ? "null"
            : value.isTextual() ? "\"" + value.asText() + "\"" : value.toString();
    switch (m.getType()) {
      case "required" -> {
        String f = field.isEmpty() ? m.getProperty() : field + "." + m.getProperty();
        return new FieldError(f, "FieldValueRequired", "Required value");
      }
      case "enum" -> {
        List<String> allowed = new ArrayList<>();
        schema.forEach(v -> allowed.add(v.isTextual() ? "\"" + v.asText() + "\"" : v.toString()));
        return new FieldError(
            field,
            "FieldValueNotSupported",
            "Unsupported value: " + shown + ": supported values: " + String.join(", ", allowed));
      }
      case "pattern" -> {
        return new FieldError(
            field,
            "FieldValueInvalid",
            "Invalid value: "
                + shown
                + ": "
                + field
                + " in body should match '"
                + schema.asText()
                + "'");
      }
      case "type" -> {
        String actual = value == null ? "null" : value.getNodeType().toString().toLowerCase();
        return new FieldError(
            field,
            "FieldValueTypeInvalid",
            "Invalid value: \""
                + actual
                + "\": "
                + field
                + " in body must be of type "
                + schema.asText()
                + ": \""
                + actual
                + "\"");
      }
      case "maxItems" -> {
        return new FieldError(
            field,
            "FieldValueTooMany",
            "Too many: " + value.size() + ": must have at most " + schema.asInt() + " items");
      }
      case "maxLength" -> {
        return new FieldError(
            field,
            "FieldValueTooLong",
            "Too long: may not be more than " + schema.asInt() + " bytes");
      }
      case "minimum" -> {
        return new FieldError(
            field,
            "FieldValueInvalid",
            "Invalid value: "
                + shown
                + ": "
                + field
                + " in body should be greater than or equal to "
                + schema.asText());
      }
      case "maximum" -> {
        return new FieldError(
            field,
            "FieldValueInvalid",
            "Invalid value: "
                + shown
                + ": "
                + field
                + " in body should be less than or equal to "
                + schema.asText());
      }
      default -> {
        return new FieldError(
            field,
            "FieldValueInvalid",
            "Invalid value: "
                + shown
                + ": "
                + m.getMessage().replaceFirst("^\\$[.\\w\\[\\]]*: ", ""));
      }
    }
  }
}
