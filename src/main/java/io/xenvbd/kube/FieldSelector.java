package io.xenvbd.kube;

import com.fasterxml.jackson.databind.JsonNode;
import java.util.ArrayList;
import java.util.List;

/**
 * A field selector ({@code metadata.name=vm1,involvedObject.uid!=x}) evaluated on the JSON object:
 * the mock store only understands labels, while kubectl wait/delete and describe select by field.
 */
record FieldSelector(List<String[]> terms) {
  static FieldSelector parse(String selector) {
    List<String[]> terms = new ArrayList<>();
    if (selector != null && !selector.isBlank()) {
      for (String term : selector.split(",")) {
        boolean not = term.contains("!=");
        String[] kv = term.split(not ? "!=" : "==?", 2);
        terms.add(new String[] {kv[0].trim(), kv.length > 1 ? kv[1].trim() : "", not ? "!" : "="});
      }
    }
    return new FieldSelector(terms);
  }

  boolean matches(JsonNode object) {
    for (String[] t : terms) {
      JsonNode n = object;
      for (String p : t[0].split("\\.")) {
        n = n == null ? null : n.get(p);
      }
      String value = n == null || n.isNull() ? "" : n.asText();
      if (value.equals(t[1]) != t[2].equals("=")) {
        return false;
      }
    }
    return true;
  }
}
