package io.xenvbd.kube;

import com.fasterxml.jackson.core.JsonProcessingException;
import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.node.ObjectNode;
import com.fasterxml.jackson.dataformat.yaml.YAMLFactory;

/** One JSON and one YAML mapper for the whole embedded API server. */
final class Json {
  static final ObjectMapper MAPPER = new ObjectMapper();
  static final ObjectMapper YAML = new ObjectMapper(new YAMLFactory());

  private Json() {}

  static JsonNode parse(String text) {
    try {
      return text == null || text.isBlank() ? null : MAPPER.readTree(text);
    } catch (JsonProcessingException e) {
      throw new ApiException(
          400, "BadRequest", "the request body is not valid JSON: " + e.getOriginalMessage());
    }
  }

  /** JSON or YAML (server-side apply bodies are YAML; JSON is YAML too). */
  static JsonNode parseYaml(String text) {
    try {
      return YAML.readTree(text);
    } catch (JsonProcessingException e) {
      throw new ApiException(
          400, "BadRequest", "the request body is not valid YAML: " + e.getOriginalMessage());
    }
  }

  static String write(JsonNode node) {
    try {
      return MAPPER.writeValueAsString(node);
    } catch (JsonProcessingException e) {
      throw new IllegalStateException(e);
    }
  }

  static ObjectNode object() {
    return MAPPER.createObjectNode();
  }

  static ObjectNode metadata(JsonNode object) {
    JsonNode m = object.get("metadata");
    if (m instanceof ObjectNode o) {
      return o;
    }
    return ((ObjectNode) object).putObject("metadata");
  }

  static String text(JsonNode node, String... path) {
    JsonNode n = node;
    for (String p : path) {
      if (n == null) {
        return null;
      }
      n = n.get(p);
    }
    return n == null || n.isNull() ? null : n.asText();
  }
}
