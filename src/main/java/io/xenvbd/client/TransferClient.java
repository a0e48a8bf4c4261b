package io.xenvbd.client;

import io.xenvbd.protocol.AgentException;
import io.xenvbd.protocol.AgentNotTrustedException;
import io.xenvbd.protocol.AgentUnreachableException;
import io.xenvbd.protocol.ErrorBody;
import io.xenvbd.protocol.ErrorCodes;
import io.xenvbd.protocol.Protocol;
import java.io.BufferedInputStream;
import java.io.EOFException;
import java.io.IOException;
import java.io.InputStream;
import java.io.InterruptedIOException;
import java.io.OutputStream;
import java.net.InetSocketAddress;
import java.net.Socket;
import java.net.URI;
import java.nio.charset.StandardCharsets;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.regex.Matcher;
import java.util.regex.Pattern;
import javax.net.ssl.SSLContext;
import javax.net.ssl.SSLParameters;
import javax.net.ssl.SSLSocket;

/**
 * How a target agent fetches a cross-node clone's windows from the source node's agent: HTTPS only,
 * to the endpoint the operator copied from the source's Dom0Node, and only from a server whose
 * certificate proves the source node ({@link AgentTrust}, checked in the handshake, before the
 * ticket is sent). It sends the ticket (or a window's continuation credential), never a token.
 *
 * <p>One blocking TLS connection per window, read by the thread that writes the file: a window is a
 * fixed-length response, so the client reads its status line and headers (at most {@link
 * #MAX_HEAD_BYTES}) and then exactly {@code Content-Length} bytes, decrypting in that thread (the
 * JDK's HttpClient hands every 16 KiB record from its selector thread to a worker to the reader:
 * three threads and their wake-ups per record). A response without a length is refused.
 */
public final class TransferClient {
  /** The route a ticket opens; nothing else accepts one. */
  public static final String PATH = "/v1/transfer";

  /** {@code Authorization: Ticket <credential>}. */
  public static final String SCHEME = "Ticket ";

  /**
   * No byte of a window's body for this long fails the read (the agent's own watchdog gives up
   * sooner, after 60 s: this only bounds callers without one).
   */
  static final Duration BODY_IDLE = Duration.ofSeconds(120);

  static final int MAX_HEAD_BYTES = 64 * 1024;
  private static final int MAX_ERROR_BYTES = 64 * 1024;
  private static final Pattern CREDENTIAL = Pattern.compile("^[A-Za-z0-9_-]{1,128}$");

  private final URI uri;
  private final SSLContext ssl;
  private final Duration timeout;

  private TransferClient(URI uri, SSLContext ssl, Duration timeout) {
    this.uri = uri;
    this.ssl = ssl;
    this.timeout = timeout;
  }

  /**
   * A client for node {@code node}'s agent at {@code endpoint} (https://host:port), trusting what
   * {@code trust} trusts.
   */
  public static TransferClient to(
      AgentTrust trust, String node, String endpoint, Duration timeout) {
    URI base = HttpAgentClient.checkedEndpoint(endpoint, true);
    SSLContext ssl = trust.contextFor(node, base.getHost());
    String b = base.toString();
    URI uri = URI.create((b.endsWith("/") ? b.substring(0, b.length() - 1) : b) + PATH);
    return new TransferClient(uri, ssl, timeout);
  }

  /**
   * The next window's body, exactly its {@code Content-Length} bytes (a peer that closes sooner
   * fails the read with {@link EOFException}); {@link AgentException} with the source's code when
   * it refused, {@link AgentNotTrustedException} when its certificate does not prove its node.
   */
  public InputStream open(String credential) throws IOException {
    if (!CREDENTIAL.matcher(credential).matches())
      throw new IllegalArgumentException("a transfer credential is base64url");
    if (Thread.currentThread().isInterrupted()) {
      throw new AgentUnreachableException(
          uri.toString(), new InterruptedIOException("interrupted before fetching a window"));
    }
    String host = uri.getHost();
    int port = uri.getPort() < 0 ? 443 : uri.getPort();
    Socket raw = new Socket();
    SSLSocket tls;
    BufferedInputStream in;
    Head head;
    try {
      int millis = (int) Math.min(Integer.MAX_VALUE, Math.max(1, timeout.toMillis()));
      raw.connect(new InetSocketAddress(unbracket(host), port), millis);
      raw.setSoTimeout(millis);
      raw.setTcpNoDelay(true);
      tls = (SSLSocket) ssl.getSocketFactory().createSocket(raw, unbracket(host), port, true);
      SSLParameters params = tls.getSSLParameters();
      params.setEndpointIdentificationAlgorithm("HTTPS"); // as the JDK's HttpClient checks it
      tls.setSSLParameters(params);
      tls.startHandshake(); // the certificate proves the node before the ticket leaves
      OutputStream out = tls.getOutputStream();
      out.write(
          ("GET "
                  + uri.getRawPath()
                  + " HTTP/1.1\r\nHost: "
                  + uri.getRawAuthority()
                  + "\r\nAuthorization: "
                  + SCHEME
                  + credential
                  + "\r\n"
                  + Protocol.HEADER
                  + ": "
                  + Protocol.CURRENT.header()
                  + "\r\nConnection: close\r\n\r\n")
              .getBytes(StandardCharsets.US_ASCII));
      out.flush();
      in = new BufferedInputStream(tls.getInputStream(), 64 * 1024);
      head = Head.read(in);
    } catch (IOException e) {
      closeQuietly(raw);
      String refusal = AgentTrust.identityRefusal(e);
      if (refusal != null) throw AgentNotTrustedException.identityMismatch(refusal);
      if (e instanceof MalformedResponse) {
        throw new AgentException(
            ErrorCodes.INTERNAL, 0, "the source agent at " + uri + " " + e.getMessage());
      }
      throw new AgentUnreachableException(uri.toString(), e);
    } catch (RuntimeException e) {
      closeQuietly(raw);
      throw e;
    }
    if (head.status() == 200) {
      if (head.length() < 0) {
        closeQuietly(raw);
        throw new AgentException(
            ErrorCodes.INTERNAL,
            200,
            "the source agent at "
                + uri
                + " answered a window without a Content-Length: upgrade its agent");
      }
      raw.setSoTimeout((int) BODY_IDLE.toMillis());
      return new Body(in, raw, head.length());
    }
    byte[] body;
    try {
      long n = head.length() < 0 ? MAX_ERROR_BYTES : Math.min(head.length(), MAX_ERROR_BYTES);
      body = in.readNBytes((int) n);
    } catch (IOException e) {
      body = new byte[0];
    } finally {
      closeQuietly(raw);
    }
    String code = ErrorCodes.INTERNAL;
    String message = "answered HTTP " + head.status();
    try {
      ErrorBody error = HttpAgentClient.JSON.readValue(body, ErrorBody.class);
      if (error.code() != null) {
        code = error.code();
        message = error.message();
      }
    } catch (IOException notJson) {
      // something other than an agent answered
    }
    throw new AgentException(code, head.status(), "the source agent at " + uri + ": " + message);
  }

  /** A response's status and {@code Content-Length} (-1: none). */
  record Head(int status, long length) {
    /**
     * Reads a status line and headers up to the blank line: at most {@link #MAX_HEAD_BYTES}, one
     * Content-Length of digits, no Transfer-Encoding.
     */
    static Head read(InputStream in) throws IOException {
      List<String> lines = new ArrayList<>();
      StringBuilder line = new StringBuilder();
      int total = 0;
      while (true) {
        int c = in.read();
        if (c < 0)
          throw new EOFException("the source agent closed the connection before answering");
        if (++total > MAX_HEAD_BYTES)
          throw new MalformedResponse("answered more than " + MAX_HEAD_BYTES + " bytes of headers");
        if (c == '\n') {
          int end = line.length();
          if (end > 0 && line.charAt(end - 1) == '\r') line.setLength(end - 1);
          if (line.length() == 0) break;
          lines.add(line.toString());
          line.setLength(0);
        } else {
          line.append((char) c);
        }
      }
      Matcher status = STATUS.matcher(lines.isEmpty() ? "" : lines.get(0));
      if (!status.matches()) throw new MalformedResponse("answered no HTTP/1.1 status line");
      long length = -1;
      for (String h : lines.subList(1, lines.size())) {
        int colon = h.indexOf(':');
        if (colon <= 0) throw new MalformedResponse("answered a malformed header line");
        String name = h.substring(0, colon).strip();
        String value = h.substring(colon + 1).strip();
        if (name.equalsIgnoreCase("Transfer-Encoding")) return new Head(status(status), -1);
        if (name.equalsIgnoreCase("Content-Length")) {
          if (length >= 0 || !value.matches("[0-9]{1,18}"))
            throw new MalformedResponse("answered a malformed Content-Length");
          length = Long.parseLong(value);
        }
      }
      return new Head(status(status), length);
    }

    private static int status(Matcher m) {
      return Integer.parseInt(m.group(1));
    }

    private static final Pattern STATUS = Pattern.compile("^HTTP/1\\.[01] ([0-9]{3})( .*)?$");
  }

  /** A response that is not HTTP as this client reads it. */
  static final class MalformedResponse extends IOException {
    MalformedResponse(String message) {
      super(message);
    }
  }

  /**
   * A window's body: exactly {@code length} bytes, then end of stream; fewer is {@link
   * EOFException}. Closing it (from any thread) closes the connection. An interrupted thread's next
   * read fails.
   */
  static final class Body extends InputStream {
    private final InputStream in;
    private final Socket socket;
    private long left;

    Body(InputStream in, Socket socket, long length) {
      this.in = in;
      this.socket = socket;
      this.left = length;
    }

    @Override
    public int read() throws IOException {
      byte[] one = new byte[1];
      int n = read(one, 0, 1);
      return n < 0 ? -1 : one[0] & 0xff;
    }

    @Override
    public int read(byte[] b, int off, int len) throws IOException {
      if (len == 0) return 0;
      if (left == 0) return -1;
      if (Thread.currentThread().isInterrupted())
        throw new InterruptedIOException("interrupted while fetching a window");
      int n = in.read(b, off, (int) Math.min(len, left));
      if (n < 0) {
        throw new EOFException(
            "the source agent closed the window with " + left + " of its bytes still to come");
      }
      left -= n;
      return n;
    }

    @Override
    public void close() throws IOException {
      socket.close();
    }
  }

  private static String unbracket(String host) {
    return host.startsWith("[") && host.endsWith("]") ? host.substring(1, host.length() - 1) : host;
  }

  private static void closeQuietly(Socket s) {
    try {
      s.close();
    } catch (IOException ignored) {
      // nothing more to release
    }
  }
}
