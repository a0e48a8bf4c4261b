package io.xenvbd.kube;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.node.ArrayNode;
import com.fasterxml.jackson.databind.node.ObjectNode;
import java.time.Duration;
import java.time.Instant;
import java.util.ArrayList;
import java.util.List;

/**
 * Server-side printing: a list or object as a meta.k8s.io/v1 Table with the CRD's
 * additionalPrinterColumns, as {@code kubectl get} asks for with {@code Accept: ...;as=Table}.
 */
final class Tables {
  private Tables() {}

  static boolean wanted(String accept) {
    return accept != null && accept.contains("as=Table");
  }

  /**
   * @param crd the CRD of the objects, or null for built-in types (Name and Age only)
   */
  static ObjectNode table(
      JsonNode crd, String plural, String version, List<JsonNode> objects, String resourceVersion) {
    List<JsonNode> columns = new ArrayList<>();
    if (crd != null) {
      CrdRegistry.version(crd, version)
          .ifPresent(v -> v.path("additionalPrinterColumns").forEach(columns::add));
    }
    if (columns.isEmpty()) {
      builtIn(plural)
          .forEach(
              c ->
                  columns.add(
                      Json.object().put("name", c[0]).put("type", c[1]).put("jsonPath", c[2])));
    }
    ObjectNode t = Json.object().put("kind", "Table").put("apiVersion", "meta.k8s.io/v1");
    t.putObject("metadata").put("resourceVersion", resourceVersion == null ? "" : resourceVersion);
    ArrayNode defs = t.putArray("columnDefinitions");
    defs.addObject()
        .put("name", "Name")
        .put("type", "string")
        .put("format", "name")
        .put("description", "Name must be unique within a namespace.")
        .put("priority", 0);
    for (JsonNode c : columns) {
      defs.addObject()
          .put("name", c.path("name").asText())
          .put(
              "type",
              "date".equals(c.path("type").asText()) ? "string" : c.path("type").asText("string"))
          .put("format", c.path("format").asText(""))
          .put("description", c.path("description").asText(""))
          .put("priority", c.path("priority").asInt(0));
    }
    ArrayNode rows = t.putArray("rows");
    for (JsonNode o : objects) {
      ObjectNode row = rows.addObject();
      ArrayNode cells = row.putArray("cells");
      cells.add(Json.text(o, "metadata", "name"));
      for (JsonNode c : columns) {
        String value = JsonPaths.evaluate(o, c.path("jsonPath").asText());
        if ("date".equals(c.path("type").asText()) && value != null && !value.isEmpty()) {
          value = age(value);
        }
        cells.add(value == null ? "" : value);
      }
      ObjectNode partial =
          row.putObject("object")
              .put("kind", "PartialObjectMetadata")
              .put("apiVersion", "meta.k8s.io/v1");
      partial.set("metadata", o.path("metadata").deepCopy());
    }
    return t;
  }

  /** Columns for the built-in types kubectl users look at: name, type and JSONPath. */
  private static List<String[]> builtIn(String plural) {
    String[] age = {"Age", "date", ".metadata.creationTimestamp"};
    return switch (plural) {
      case "events" ->
          List.of(
              new String[] {"Last Seen", "date", ".lastTimestamp"},
              new String[] {"Type", "string", ".type"},
              new String[] {"Reason", "string", ".reason"},
              new String[] {"Object", "string", ".involvedObject.name"},
              new String[] {"Message", "string", ".message"});
      case "namespaces" -> List.of(new String[] {"Status", "string", ".status.phase"}, age);
      default -> List.<String[]>of(age);
    };
  }

  /** kubectl's short human age: 45s, 12m, 3h, 5d. */
  static String age(String timestamp) {
    try {
      long s = Math.max(0, Duration.between(Instant.parse(timestamp), Instant.now()).getSeconds());
      if (s < 120) {
        return s + "s";
      }
      if (s < 7200) {
        return s / 60 + "m";
      }
      if (s < 172800) {
        return s / 3600 + "h";
      }
      return s / 86400 + "d";
    } catch (RuntimeException e) {
      return timestamp;
    }
  }
}
