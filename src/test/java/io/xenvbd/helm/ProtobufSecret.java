package io.xenvbd.helm;

import java.nio.charset.StandardCharsets;
import java.util.Arrays;
import java.util.Base64;
import java.util.LinkedHashMap;
import java.util.Map;

/**
 * Helm stores each release in a Secret through client-go's typed client, which sends protobuf
 * ({@code k8s\0} + runtime.Unknown wrapping a v1.Secret); the mock API server reads only JSON. This
 * decodes exactly the fields Helm's storage writes (name, namespace, labels, resourceVersion,
 * data, type) into the JSON object the server stores.
 */
final class ProtobufSecret {
  private static final byte[] MAGIC = {'k', '8', 's', 0};

  private ProtobufSecret() {}

  static boolean is(byte[] body) {
    return body.length > 4 && Arrays.equals(Arrays.copyOf(body, 4), MAGIC);
  }

  static Map<String, Object> toJson(byte[] body) {
    Reader unknown = new Reader(Arrays.copyOfRange(body, 4, body.length));
    byte[] raw = null;
    while (unknown.more()) {
      int field = unknown.tag();
      if (field == 2) raw = unknown.bytes();
      else unknown.skip();
    }
    if (raw == null) throw new IllegalArgumentException("protobuf body without an object");
    Map<String, Object> metadata = new LinkedHashMap<>();
    Map<String, Object> data = new LinkedHashMap<>();
    Map<String, Object> secret = new LinkedHashMap<>();
    secret.put("apiVersion", "v1");
    secret.put("kind", "Secret");
    secret.put("metadata", metadata);
    Reader r = new Reader(raw);
    while (r.more()) {
      switch (r.tag()) {
        case 1 -> readMetadata(new Reader(r.bytes()), metadata);
        case 2 -> {
          Map.Entry<String, byte[]> e = entry(new Reader(r.bytes()));
          data.put(e.getKey(), Base64.getEncoder().encodeToString(e.getValue()));
        }
        case 3 -> secret.put("type", r.string());
        default -> r.skip();
      }
    }
    secret.put("data", data);
    return secret;
  }

  private static void readMetadata(Reader r, Map<String, Object> metadata) {
    Map<String, String> labels = new LinkedHashMap<>();
    while (r.more()) {
      switch (r.tag()) {
        case 1 -> metadata.put("name", r.string());
        case 3 -> metadata.put("namespace", r.string());
        case 6 -> metadata.put("resourceVersion", r.string());
        case 11 -> {
          Map.Entry<String, byte[]> e = entry(new Reader(r.bytes()));
          labels.put(e.getKey(), new String(e.getValue(), StandardCharsets.UTF_8));
        }
        default -> r.skip();
      }
    }
    metadata.put("labels", labels);
  }

  private static Map.Entry<String, byte[]> entry(Reader r) {
    String key = "";
    byte[] value = new byte[0];
    while (r.more()) {
      switch (r.tag()) {
        case 1 -> key = r.string();
        case 2 -> value = r.bytes();
        default -> r.skip();
      }
    }
    return Map.entry(key, value);
  }

  /** Protobuf wire format: varint keys, then a varint or a length-delimited value. */
  private static final class Reader {
    private final byte[] b;
    private int pos;
    private int wireType;

    Reader(byte[] b) {
      this.b = b;
    }

    boolean more() {
      return pos < b.length;
    }

    int tag() {
      long key = varint();
      wireType = (int) (key & 7);
      return (int) (key >>> 3);
    }

    byte[] bytes() {
      int len = (int) varint();
      byte[] out = Arrays.copyOfRange(b, pos, pos + len);
      pos += len;
      return out;
    }

    String string() {
      return new String(bytes(), StandardCharsets.UTF_8);
    }

    void skip() {
      switch (wireType) {
        case 0 -> varint();
        case 1 -> pos += 8;
        case 2 -> bytes();
        case 5 -> pos += 4;
        default -> throw new IllegalArgumentException("wire type " + wireType);
      }
    }

    private long varint() {
      long value = 0;
      for (int shift = 0; ; shift += 7) {
        byte x = b[pos++];
        value |= (long) (x & 0x7f) << shift;
        if ((x & 0x80) == 0) return value;
      }
    }
  }
}
