package io.xenvbd.agent;

import java.io.ByteArrayOutputStream;
import java.io.IOException;
import java.io.InputStream;
import java.io.OutputStream;
import java.net.InetSocketAddress;
import java.net.SocketTimeoutException;
import java.nio.charset.StandardCharsets;
import java.time.Duration;
import java.util.Locale;
import java.util.Map;
import java.util.TreeMap;
import javax.net.ssl.SSLContext;
import javax.net.ssl.SSLSocket;

/**
 * One TLS connection driven by hand: requests written byte by byte as an attacker would, answers
 * read raw.
 */
final class RawHttps implements AutoCloseable {
  record Response(int status, Map<String, String> headers, String body) {}

  private final SSLSocket socket;
  private final InputStream in;
  private final OutputStream out;

  private RawHttps(SSLSocket socket) throws IOException {
    this.socket = socket;
    this.in = socket.getInputStream();
    this.out = socket.getOutputStream();
  }

  /** Connects and completes the TLS handshake; reads wait at most {@code readTimeout}. */
  static RawHttps connect(SSLContext ssl, InetSocketAddress agent, Duration readTimeout)
      throws IOException {
    SSLSocket s =
        (SSLSocket) ssl.getSocketFactory().createSocket(agent.getAddress(), agent.getPort());
    s.setSoTimeout((int) readTimeout.toMillis());
    s.startHandshake();
    return new RawHttps(s);
  }

  /** This end's port: the agent's end of the connection is the one with it as its peer. */
  int localPort() {
    return socket.getLocalPort();
  }

  void send(String text) throws IOException {
    out.write(text.getBytes(StandardCharsets.ISO_8859_1));
    out.flush();
  }

  /** Status line, headers (names lower-cased) and a Content-Length body; a read timeout throws. */
  Response readResponse() throws IOException {
    String status = line();
    if (status == null) throw new IOException("the agent closed the connection without an answer");
    Map<String, String> headers = new TreeMap<>();
    for (String h = line(); h != null && !h.isEmpty(); h = line()) {
      int colon = h.indexOf(':');
      headers.put(
          h.substring(0, colon).trim().toLowerCase(Locale.ROOT), h.substring(colon + 1).trim());
    }
    int length = Integer.parseInt(headers.getOrDefault("content-length", "0"));
    String body = new String(in.readNBytes(length), StandardCharsets.UTF_8);
    return new Response(Integer.parseInt(status.split(" ")[1]), headers, body);
  }

  /**
   * True when the agent has closed the connection (end of stream or reset), false when it is still
   * open after the read timeout. Any data read instead is a failure.
   */
  boolean closedByAgent() {
    try {
      int b = in.read();
      if (b != -1)
        throw new AssertionError("expected the connection closed, got data: " + (char) b);
      return true;
    } catch (SocketTimeoutException e) {
      return false;
    } catch (IOException e) {
      return true;
    }
  }

  private String line() throws IOException {
    ByteArrayOutputStream b = new ByteArrayOutputStream();
    for (int c = in.read(); c != '\n'; c = in.read()) {
      if (c == -1) return b.size() == 0 ? null : b.toString(StandardCharsets.ISO_8859_1);
      if (c != '\r') b.write(c);
    }
    return b.toString(StandardCharsets.ISO_8859_1);
  }

  @Override
  public void close() {
    try {
      socket.close();
    } catch (IOException e) {
      // already gone
    }
  }
}
