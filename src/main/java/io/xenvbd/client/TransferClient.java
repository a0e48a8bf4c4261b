package io.xenvbd.client;

import io.xenvbd.protocol.AgentException;
import io.xenvbd.protocol.AgentNotTrustedException;
import io.xenvbd.protocol.AgentUnreachableException;
import io.xenvbd.protocol.ErrorBody;
import io.xenvbd.protocol.ErrorCodes;
import io.xenvbd.protocol.Protocol;
import java.io.IOException;
import java.io.InputStream;
import java.io.InterruptedIOException;
import java.net.URI;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.time.Duration;
import javax.net.ssl.SSLContext;

/**
 * How a target agent fetches a cross-node clone's windows from the source node's agent: HTTPS only,
 * to the endpoint the operator copied from the source's Dom0Node, and only from a server whose
 * certificate proves the source node ({@link AgentTrust}, checked in the handshake, before the
 * ticket is sent). It sends the ticket (or a window's continuation credential), never a token.
 */
public final class TransferClient {
  /** The route a ticket opens; nothing else accepts one. */
  public static final String PATH = "/v1/transfer";

  /** {@code Authorization: Ticket <credential>}. */
  public static final String SCHEME = "Ticket ";

  private static final int MAX_ERROR_BYTES = 64 * 1024;

  private final URI uri;
  private final HttpClient http;
  private final Duration timeout;

  private TransferClient(URI uri, HttpClient http, Duration timeout) {
    this.uri = uri;
    this.http = http;
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
    return new TransferClient(uri, HttpAgentClient.newHttpClient(ssl, timeout), timeout);
  }

  /**
   * The next window's body; {@link AgentException} with the source's code when it refused, {@link
   * AgentNotTrustedException} when its certificate does not prove its node.
   */
  public InputStream open(String credential) throws IOException {
    HttpRequest request =
        HttpRequest.newBuilder(uri)
            .timeout(timeout)
            .GET()
            .header("Authorization", SCHEME + credential)
            .header(Protocol.HEADER, Protocol.CURRENT.header())
            .build();
    HttpResponse<InputStream> response;
    try {
      response = http.send(request, HttpResponse.BodyHandlers.ofInputStream());
    } catch (IOException e) {
      String refusal = AgentTrust.identityRefusal(e);
      if (refusal != null) throw AgentNotTrustedException.identityMismatch(refusal);
      throw new AgentUnreachableException(uri.toString(), e);
    } catch (InterruptedException e) {
      Thread.currentThread().interrupt();
      throw new InterruptedIOException("interrupted while fetching from " + uri);
    }
    if (response.statusCode() == 200) return response.body();
    byte[] body;
    try (InputStream in = response.body()) {
      body = in.readNBytes(MAX_ERROR_BYTES);
    }
    String code = ErrorCodes.INTERNAL;
    String message = "answered HTTP " + response.statusCode();
    try {
      ErrorBody error = HttpAgentClient.JSON.readValue(body, ErrorBody.class);
      if (error.code() != null) {
        code = error.code();
        message = error.message();
      }
    } catch (IOException notJson) {
      // something other than an agent answered
    }
    throw new AgentException(
        code, response.statusCode(), "the source agent at " + uri + ": " + message);
  }
}
