package io.xenvbd.agent;

import java.util.Map;

/**
 * What one connection may cost the agent, as the JDK's HTTP server enforces it. The server reads
 * these system properties once, when the JVM's first {@code com.sun.net.httpserver} server is
 * created, so {@link #apply} runs before the agent creates its server; a value already given
 * ({@code -Dsun.net.httpserver.maxReqTime=...} in {@code JAVA_TOOL_OPTIONS}) wins over ours. They
 * are the JVM's, not one server's: in local mode the operator's management server (created after
 * the agent) gets the same limits, which suit it as well.
 */
final class HttpLimits {
  private HttpLimits() {}

  /**
   * From a connection's first byte to the last byte of its request body: the TLS handshake, the
   * request head and a body of at most 25 MiB ({@link Exchanges#MAX_BODY_BYTES}). A client that
   * sends headers or body slowly (slowloris) is disconnected after this. The operator's calls take
   * milliseconds.
   */
  static final long REQUEST_SECONDS = 30;

  /**
   * From the end of a request to the last byte of its answer, waiting for an API thread included.
   */
  static final long RESPONSE_SECONDS = 60;

  /**
   * A connection that has sent nothing yet, or nothing since its last answer, is closed after this.
   */
  static final long IDLE_SECONDS = 30;

  /** Request line and headers together; the operator sends well under 1 KiB. */
  static final int HEADER_BYTES = 32 * 1024;

  static final int HEADER_COUNT = 64;

  /**
   * The limits above, and two more. A body the agent did not read (a request refused before its
   * body, e.g. without the token) is not drained after the answer (the JDK would read up to 64 KiB,
   * blocking a thread on a client that never sends it): its connection is closed instead. Bodies
   * the agent accepts are read whole. And each answer leaves as it is written (nodelay: TCP_NODELAY
   * on every accepted connection): the JDK's server writes an answer's head and body apart, and
   * with Nagle's algorithm, its default, the body waited for the client's delayed ACK of the head,
   * 40 ms and more on a call the agent answered in 2 (a build's end to Ready 70–75 ms, 25–34 ms
   * with it; docs/benchmarks.md 1d).
   */
  static final Map<String, String> PROPERTIES =
      Map.of(
          "sun.net.httpserver.maxReqTime", String.valueOf(REQUEST_SECONDS),
          "sun.net.httpserver.maxRspTime", String.valueOf(RESPONSE_SECONDS),
          "sun.net.httpserver.idleInterval", String.valueOf(IDLE_SECONDS),
          "sun.net.httpserver.maxReqHeaderSize", String.valueOf(HEADER_BYTES),
          "sun.net.httpserver.maxReqHeaders", String.valueOf(HEADER_COUNT),
          "sun.net.httpserver.drainAmount", "0",
          "sun.net.httpserver.nodelay", "true");

  static void apply() {
    PROPERTIES.forEach(
        (key, value) -> {
          if (System.getProperty(key) == null) System.setProperty(key, value);
        });
  }
}
