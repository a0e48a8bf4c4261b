package io.xenvbd.kube;

import java.net.URLDecoder;
import java.nio.charset.StandardCharsets;
import java.util.LinkedHashMap;
import java.util.Map;

/** The query string of a request, decoded. */
record Query(Map<String, String> params) {
  static Query parse(String rawQuery) {
    Map<String, String> m = new LinkedHashMap<>();
    if (rawQuery != null && !rawQuery.isEmpty()) {
      for (String kv : rawQuery.split("&")) {
        int eq = kv.indexOf('=');
        String k = eq < 0 ? kv : kv.substring(0, eq);
        String v = eq < 0 ? "" : kv.substring(eq + 1);
        m.put(
            URLDecoder.decode(k, StandardCharsets.UTF_8),
            URLDecoder.decode(v, StandardCharsets.UTF_8));
      }
    }
    return new Query(m);
  }

  String get(String name) {
    return params.get(name);
  }

  boolean isTrue(String name) {
    String v = params.get(name);
    return "true".equals(v) || "1".equals(v);
  }
}
