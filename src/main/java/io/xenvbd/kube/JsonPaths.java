package io.xenvbd.kube;

import com.fasterxml.jackson.databind.JsonNode;
import java.util.ArrayList;
import java.util.List;
import java.util.regex.Matcher;
import java.util.regex.Pattern;

/**
 * The simple JSONPath subset that printer columns use: {@code .a.b}, {@code .a[0].b} and {@code
 * .a[?(@.type=="Ready")].status}. Several matches print comma-separated, as kubectl does.
 */
final class JsonPaths {
  private static final Pattern STEP =
      Pattern.compile(
          "\\.([A-Za-z0-9_-]+)|\\[(\\d+)]|\\[\\?\\(@\\.([A-Za-z0-9_.-]+)\\s*==\\s*[\"']([^\"']*)[\"']\\)]");

  private JsonPaths() {}

  static String evaluate(JsonNode root, String path) {
    List<JsonNode> current = new ArrayList<>(List.of(root));
    Matcher m = STEP.matcher(path.trim());
    int at = 0;
    while (m.find()) {
      if (m.start() != at) {
        return null;
      }
      at = m.end();
      List<JsonNode> next = new ArrayList<>();
      for (JsonNode n : current) {
        if (m.group(1) != null) {
          JsonNode c = n.get(m.group(1));
          if (c != null && !c.isNull()) {
            next.add(c);
          }
        } else if (m.group(2) != null) {
          JsonNode c = n.get(Integer.parseInt(m.group(2)));
          if (c != null) {
            next.add(c);
          }
        } else {
          for (JsonNode item : n) {
            JsonNode f = item;
            for (String p : m.group(3).split("\\.")) {
              f = f == null ? null : f.get(p);
            }
            if (f != null && m.group(4).equals(f.asText())) {
              next.add(item);
            }
          }
        }
      }
      current = next;
    }
    if (at != path.trim().length() || current.isEmpty()) {
      return null;
    }
    List<String> out = new ArrayList<>();
    current.forEach(n -> out.add(n.isValueNode() ? n.asText() : Json.write(n)));
    return String.join(",", out);
  }
}
