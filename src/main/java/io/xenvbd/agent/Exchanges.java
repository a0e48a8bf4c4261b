package io.xenvbd.agent;

import com.fasterxml.jackson.annotation.JsonIgnoreProperties;
import com.fasterxml.jackson.core.JsonProcessingException;
import com.fasterxml.jackson.databind.DeserializationFeature;
import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.cfg.MapperConfig;
import com.fasterxml.jackson.databind.exc.MismatchedInputException;
import com.fasterxml.jackson.databind.exc.UnrecognizedPropertyException;
import com.fasterxml.jackson.databind.introspect.Annotated;
import com.fasterxml.jackson.databind.introspect.JacksonAnnotationIntrospector;
import com.fasterxml.jackson.databind.json.JsonMapper;
import com.sun.net.httpserver.HttpExchange;
import io.xenvbd.protocol.ErrorCodes;
import io.xenvbd.protocol.PutDiskRequest;
import java.io.IOException;
import java.io.InputStream;
import java.io.OutputStream;
import java.nio.charset.StandardCharsets;
import java.security.MessageDigest;
import java.security.NoSuchAlgorithmException;
import java.util.List;
import java.util.stream.Collectors;

/**
 * Reading and answering one HTTP exchange: strict JSON in, JSON out, limited bodies, bearer-token
 * check.
 */
final class Exchanges {
  private Exchanges() {}

  /**
   * The largest body read, 25 MiB, and only from a caller with the token; see {@link
   * PutDiskRequest#MAX_BODY_BYTES}.
   */
  static final int MAX_BODY_BYTES = PutDiskRequest.MAX_BODY_BYTES;

  /**
   * Past {@link #MAX_BODY_BYTES}, how much more of an oversized body (from a caller with the token)
   * is read and dropped before its 413, so that a client still sending a little more sees the
   * answer, not a reset connection; a longer one has its connection closed.
   */
  static final int OVERSIZE_DRAIN_BYTES = 1 << 20;

  /**
   * A refused call's body (no token, or no API thread free) is read only when it declares at most
   * this many bytes, and only after the answer has gone out; a longer or chunked one is not read at
   * all.
   */
  static final int REFUSED_DRAIN_BYTES = 64 * 1024;

  /**
   * Strict, the requests' half of the protocol's unknown-field policy (see the protocol package): a
   * misspelled or newer field is a mistake the caller should hear about, not a silently ignored
   * setting. The protocol's records carry no ignore annotation; should a type that says
   * {@code @JsonIgnoreProperties(ignoreUnknown = true)} (as the CRD's records do, for the
   * operator's sake) ever be read here, the agent's own input overrules it.
   */
  static final ObjectMapper JSON =
      JsonMapper.builder()
          .annotationIntrospector(
              new JacksonAnnotationIntrospector() {
                @Override
                public JsonIgnoreProperties.Value findPropertyIgnoralByName(
                    MapperConfig<?> config, Annotated a) {
                  JsonIgnoreProperties.Value declared = super.findPropertyIgnoralByName(config, a);
                  return declared == null ? null : declared.withoutIgnoreUnknown();
                }
              })
          .enable(DeserializationFeature.FAIL_ON_UNKNOWN_PROPERTIES)
          .enable(DeserializationFeature.FAIL_ON_TRAILING_TOKENS)
          .enable(DeserializationFeature.FAIL_ON_NULL_FOR_PRIMITIVES)
          .build();

  static <T> T readJson(HttpExchange exchange, Class<T> type) throws IOException {
    String length = exchange.getRequestHeaders().getFirst("Content-Length");
    if (length != null) {
      try {
        Long.parseLong(length.trim());
      } catch (NumberFormatException e) {
        throw ApiError.badRequest("Content-Length '" + length + "' is not a number");
      }
    }
    byte[] body;
    try (InputStream in = exchange.getRequestBody()) {
      body = in.readNBytes(MAX_BODY_BYTES + 1);
      // Read (and drop) a moderately oversized body so the client, still sending, gets the 413 and
      // not a reset connection; anything beyond that is cut off by closing the connection.
      if (body.length > MAX_BODY_BYTES) {
        byte[] sink = new byte[64 * 1024];
        long drained = 0;
        for (int n = in.read(sink); n != -1 && drained < OVERSIZE_DRAIN_BYTES; n = in.read(sink))
          drained += n;
        // Not reused after a refused body (RFC 9110, 413): the client may still be sending.
        exchange.getResponseHeaders().set("Connection", "close");
        throw tooLarge();
      }
    }
    if (body.length == 0)
      throw ApiError.badRequest("the request body is empty: send a JSON " + type.getSimpleName());
    try {
      T value = JSON.readValue(body, type);
      if (value == null)
        throw ApiError.badRequest("the request body is null: send a JSON " + type.getSimpleName());
      return value;
    } catch (UnrecognizedPropertyException e) {
      throw ApiError.badRequest(
          "unknown field '"
              + e.getPropertyName()
              + "' at "
              + path(e)
              + ": remove it or check its spelling (known: "
              + e.getKnownPropertyIds().stream()
                  .map(String::valueOf)
                  .sorted()
                  .collect(Collectors.joining(", "))
              + ")");
    } catch (MismatchedInputException e) {
      throw ApiError.badRequest("invalid value at " + path(e) + ": " + e.getOriginalMessage());
    } catch (JsonProcessingException e) {
      throw ApiError.badRequest(
          "malformed JSON at line "
              + e.getLocation().getLineNr()
              + ", column "
              + e.getLocation().getColumnNr()
              + ": "
              + e.getOriginalMessage());
    }
  }

  private static String path(MismatchedInputException e) {
    String p =
        e.getPath().stream()
            .map(r -> r.getFieldName() != null ? r.getFieldName() : "[" + r.getIndex() + "]")
            .collect(Collectors.joining("."))
            .replace(".[", "[");
    return p.isEmpty() ? "the top level" : p;
  }

  /**
   * Reads what is left of the request body before the answer goes out (a request refused before its
   * body was read, e.g. for a bad name). Answering first lets the client send its next request at
   * once; the JDK's HTTPS server, draining the old body afterwards, could then pull the next
   * request into its TLS buffer and never notice it: that request hung until the client timed out
   * (1 run in 6 of AgentDiskApiTest). A body longer than any request should be is not read to its
   * end: that connection is closed instead.
   */
  static void drainRequestBody(HttpExchange exchange) {
    try {
      InputStream in = exchange.getRequestBody();
      byte[] sink = new byte[64 * 1024];
      long drained = 0;
      for (int n = in.read(sink); n != -1; n = in.read(sink)) {
        drained += n;
        if (drained > MAX_BODY_BYTES) {
          exchange.getResponseHeaders().set("Connection", "close");
          return;
        }
      }
    } catch (IOException e) {
      // already read and closed (the usual case), or the client went away
    }
  }

  private static ApiError tooLarge() {
    return new ApiError(
        413,
        ErrorCodes.PAYLOAD_TOO_LARGE,
        "the request body is larger than "
            + MAX_BODY_BYTES
            + " bytes, more than any VirtualDisk spec can need: send one disk's spec, within the CRD's limits");
  }

  static void sendJson(HttpExchange exchange, int status, Object body) throws IOException {
    byte[] bytes = JSON.writeValueAsBytes(body);
    send(exchange, status, "application/json", bytes);
  }

  static void sendText(HttpExchange exchange, int status, String contentType, String text)
      throws IOException {
    send(exchange, status, contentType, text.getBytes(StandardCharsets.UTF_8));
  }

  static void sendEmpty(HttpExchange exchange, int status) throws IOException {
    drainRequestBody(exchange);
    exchange.sendResponseHeaders(status, -1);
    exchange.close();
  }

  /**
   * Answers a request refused before its body (no token, or no API thread free), then closes its
   * connection. The answer goes out before any of the body is read. A body declared at most {@link
   * #REFUSED_DRAIN_BYTES} long is read and dropped after it: closing a socket with unread data
   * resets it, and a client still sending would see the reset, not the 401 that says what is wrong
   * (263 of 300 wrong-token PUTs of 20 KiB did, when the agent closed at once). A longer body, or
   * one of unknown length, is not read at all: the JDK closes the connection after the answer
   * instead of draining it ({@link HttpLimits}), so a caller without the token never costs the
   * agent more than 64 KiB of reading.
   */
  static void sendUnread(HttpExchange exchange, int status, Object body) throws IOException {
    byte[] bytes = JSON.writeValueAsBytes(body);
    exchange.getResponseHeaders().set("Connection", "close");
    if (headersOnly(exchange, status, "application/json")) return;
    exchange.sendResponseHeaders(status, bytes.length);
    OutputStream out = exchange.getResponseBody();
    out.write(bytes);
    out.flush();
    if (declaredLength(exchange) <= REFUSED_DRAIN_BYTES) {
      InputStream in = exchange.getRequestBody();
      byte[] sink = new byte[64 * 1024];
      while (in.read(sink) != -1) {
        // dropped
      }
    }
    out.close();
  }

  /** Whether the request says a body follows (a length above 0, or chunked). */
  static boolean declaresBody(HttpExchange exchange) {
    return declaredLength(exchange) > 0;
  }

  /**
   * Content-Length, 0 without one, {@code Long.MAX_VALUE} for a chunked body (the JDK refuses a
   * malformed length).
   */
  private static long declaredLength(HttpExchange exchange) {
    if (exchange.getRequestHeaders().containsKey("Transfer-Encoding")) return Long.MAX_VALUE;
    String length = exchange.getRequestHeaders().getFirst("Content-Length");
    return length == null ? 0 : Long.parseLong(length.trim());
  }

  private static void send(HttpExchange exchange, int status, String contentType, byte[] bytes)
      throws IOException {
    drainRequestBody(exchange);
    write(exchange, status, contentType, bytes);
  }

  private static void write(HttpExchange exchange, int status, String contentType, byte[] bytes)
      throws IOException {
    if (headersOnly(exchange, status, contentType)) return;
    exchange.sendResponseHeaders(status, bytes.length == 0 ? -1 : bytes.length);
    try (OutputStream out = exchange.getResponseBody()) {
      out.write(bytes);
    }
  }

  /** Sets the answer's headers; true when they are all a HEAD request gets (they are sent then). */
  private static boolean headersOnly(HttpExchange exchange, int status, String contentType)
      throws IOException {
    exchange.getResponseHeaders().set("Content-Type", contentType);
    exchange.getResponseHeaders().set("Cache-Control", "no-store");
    if (!exchange.getRequestMethod().equals("HEAD")) return false;
    exchange.sendResponseHeaders(status, -1);
    return true;
  }

  /**
   * Constant-time comparison of the bearer token. Both sides are hashed first so that even the
   * length of the expected token does not show in the timing.
   */
  /** Whether the bearer token's digest is one of {@code acceptedDigests} (each compared fully). */
  static boolean hasToken(HttpExchange exchange, List<byte[]> acceptedDigests) {
    String header = exchange.getRequestHeaders().getFirst("Authorization");
    String given =
        header != null && header.regionMatches(true, 0, "Bearer ", 0, 7)
            ? header.substring(7).strip()
            : "";
    byte[] digest = sha256(given);
    boolean ok = false;
    for (byte[] accepted : acceptedDigests) ok |= MessageDigest.isEqual(digest, accepted);
    return ok;
  }

  static byte[] sha256(String value) {
    try {
      return MessageDigest.getInstance("SHA-256").digest(value.getBytes(StandardCharsets.UTF_8));
    } catch (NoSuchAlgorithmException e) {
      throw new IllegalStateException("SHA-256 is missing from this JVM", e);
    }
  }
}
