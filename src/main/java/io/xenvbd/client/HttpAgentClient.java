package io.xenvbd.client;

import com.fasterxml.jackson.core.JsonProcessingException;
import com.fasterxml.jackson.databind.DeserializationFeature;
import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.json.JsonMapper;
import io.xenvbd.protocol.AgentClient;
import io.xenvbd.protocol.AgentClientFactory;
import io.xenvbd.protocol.AgentException;
import io.xenvbd.protocol.AgentNotTrustedException;
import io.xenvbd.protocol.AgentUnreachableException;
import io.xenvbd.protocol.DiskState;
import io.xenvbd.protocol.ErrorBody;
import io.xenvbd.protocol.ErrorCodes;
import io.xenvbd.protocol.NodeInfo;
import io.xenvbd.protocol.OperationEnds;
import io.xenvbd.protocol.Protocol;
import io.xenvbd.protocol.PutDiskRequest;
import io.xenvbd.protocol.TransferTicket;
import java.io.IOException;
import java.net.URI;
import java.net.URISyntaxException;
import java.net.URLEncoder;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.nio.charset.StandardCharsets;
import java.time.Duration;
import java.util.List;
import java.util.Locale;
import java.util.Optional;
import java.util.function.Supplier;
import javax.net.ssl.SSLContext;

/**
 * {@link AgentClient} over HTTP(S) with the JDK's client and a bearer token. Errors the agent
 * answers become {@link AgentException} with its code; failures to reach it become {@link
 * AgentUnreachableException}, and a server the TLS check refuses (see {@link AgentTrust}) becomes
 * {@link AgentNotTrustedException} before any request is written.
 */
public final class HttpAgentClient implements AgentClient {

  /**
   * Tolerant of fields a newer agent may add to its answers, so operator and agents can be upgraded
   * one at a time (the package's unknown-field policy: responses tolerant, requests strict).
   */
  static final ObjectMapper JSON =
      JsonMapper.builder().disable(DeserializationFeature.FAIL_ON_UNKNOWN_PROPERTIES).build();

  private static final Duration DEFAULT_TIMEOUT = Duration.ofSeconds(15);

  private final URI endpoint;
  private final Supplier<List<String>> tokens;
  private final HttpClient http;
  private final Duration timeout;
  private final Protocol protocol;

  /**
   * A client for one agent. {@code ssl} null: the JDK's default trust, or plain HTTP when the
   * endpoint says so; with {@code ssl}, an {@code http://} endpoint is refused (the token never
   * travels in clear).
   */
  public HttpAgentClient(URI endpoint, String token, SSLContext ssl, Duration timeout) {
    this(
        checkedEndpoint(endpoint.toString(), ssl != null),
        token,
        newHttpClient(ssl, timeout),
        timeout);
  }

  HttpAgentClient(URI endpoint, String token, HttpClient http, Duration timeout) {
    this(endpoint, () -> List.of(token), http, timeout, Protocol.CURRENT);
  }

  /**
   * {@code tokens}: asked at every call, the token to send first, then the one it replaced while a
   * rotation's overlap lasts (tried only when the agent answers 401: it has not seen the change).
   */
  HttpAgentClient(
      URI endpoint,
      Supplier<List<String>> tokens,
      HttpClient http,
      Duration timeout,
      Protocol protocol) {
    this.protocol = protocol;
    String base = endpoint.toString();
    this.endpoint = URI.create(base.endsWith("/") ? base.substring(0, base.length() - 1) : base);
    this.tokens = tokens;
    this.http = http;
    this.timeout = timeout;
  }

  /**
   * Clients for any node with one token and one TLS context for all ({@code sslOrNull} trusts the
   * agents' CA, whatever names their certificates carry: {@link AgentTrust.Identity#CA}).
   */
  public static AgentClientFactory factory(String token, SSLContext sslOrNull) {
    return new AgentClients(NodeTokens.shared(token), null, sslOrNull, DEFAULT_TIMEOUT);
  }

  /**
   * Clients that send each node its own token and, with {@code trust} of identity NODE, talk only
   * to a server whose certificate proves that node ({@link AgentTrust}). {@code trust} null: plain
   * HTTP allowed.
   */
  public static AgentClientFactory factory(NodeTokens tokens, AgentTrust trust) {
    return factory(tokens, trust, Protocol.CURRENT);
  }

  /**
   * Like {@link #factory(NodeTokens, AgentTrust)}, announcing {@code protocol} (a skew test's
   * operator of another version).
   */
  public static AgentClientFactory factory(NodeTokens tokens, AgentTrust trust, Protocol protocol) {
    return new AgentClients(tokens, trust, null, DEFAULT_TIMEOUT, protocol);
  }

  static HttpClient newHttpClient(SSLContext ssl, Duration timeout) {
    HttpClient.Builder builder =
        HttpClient.newBuilder().connectTimeout(timeout).version(HttpClient.Version.HTTP_1_1);
    if (ssl != null) builder.sslContext(ssl);
    return builder.build();
  }

  /**
   * The endpoint a Dom0Node advertises (anyone who can write a Dom0Node chose it), accepted only as
   * {@code https://host[:port]} (or {@code http://} when TLS is not configured): no user info,
   * path, query or fragment that could redirect the calls built on it.
   */
  static URI checkedEndpoint(String endpoint, boolean tls) {
    URI uri;
    try {
      uri = new URI(endpoint == null ? "" : endpoint);
    } catch (URISyntaxException e) {
      throw invalidEndpoint(endpoint, tls);
    }
    String scheme = uri.getScheme() == null ? "" : uri.getScheme().toLowerCase(Locale.ROOT);
    if (tls && scheme.equals("http"))
      throw AgentNotTrustedException.insecureEndpoint(shown(endpoint));
    String path = uri.getRawPath();
    if (!(scheme.equals("https") || scheme.equals("http"))
        || uri.getHost() == null
        || uri.getRawUserInfo() != null
        || uri.getRawQuery() != null
        || uri.getRawFragment() != null
        || !(path == null || path.isEmpty() || path.equals("/"))) {
      throw invalidEndpoint(endpoint, tls);
    }
    return uri;
  }

  private static AgentUnreachableException invalidEndpoint(String endpoint, boolean tls) {
    return new AgentUnreachableException(
        "its agent advertises the endpoint '"
            + shown(endpoint)
            + "', which is not "
            + (tls ? "https" : "http(s)")
            + "://<host>:<port>: the agent's --advertise must be such a URL");
  }

  /** An attacker-chosen string inside a condition message: bounded. */
  static String shown(String value) {
    return value == null ? "" : value.length() <= 200 ? value : value.substring(0, 200) + "...";
  }

  @Override
  public NodeInfo node() {
    return read(send(request("/v1/node").GET()), NodeInfo.class);
  }

  @Override
  public DiskState putDisk(String namespace, String name, PutDiskRequest body) {
    byte[] json;
    try {
      json = JSON.writeValueAsBytes(body);
    } catch (JsonProcessingException e) {
      throw new IllegalArgumentException(
          "cannot encode the disk request: " + e.getOriginalMessage(), e);
    }
    return read(
        send(
            request(diskPath(namespace, name))
                .header("Content-Type", "application/json")
                .PUT(HttpRequest.BodyPublishers.ofByteArray(json))),
        DiskState.class);
  }

  @Override
  public TransferTicket transferTicket(TransferTicket.Request body) {
    byte[] json;
    try {
      json = JSON.writeValueAsBytes(body);
    } catch (JsonProcessingException e) {
      throw new IllegalArgumentException(
          "cannot encode the ticket request: " + e.getOriginalMessage(), e);
    }
    return read(
        send(
            request("/v1/transfers")
                .header("Content-Type", "application/json")
                .POST(HttpRequest.BodyPublishers.ofByteArray(json))),
        TransferTicket.class);
  }

  @Override
  public Optional<DiskState> getDisk(String namespace, String name) {
    return getDisk(namespace, name, Duration.ZERO);
  }

  @Override
  public Optional<DiskState> getDisk(String namespace, String name, Duration wait) {
    String query = wait.isZero() ? "" : "?wait=" + wait.toMillis();
    // the agent may hold the answer for the wait: the timeout counts from its end
    HttpResponse<byte[]> response =
        sendAllowing404(
            request(diskPath(namespace, name) + query).timeout(timeout.plus(wait)).GET());
    return response.statusCode() == 404
        ? Optional.empty()
        : Optional.of(read(response, DiskState.class));
  }

  @Override
  public OperationEnds ends(String epoch, long after, Duration wait) {
    String query =
        "?epoch="
            + URLEncoder.encode(epoch == null ? "" : epoch, StandardCharsets.UTF_8)
            + "&after="
            + after
            + "&wait="
            + wait.toMillis();
    // the agent may hold the answer for the wait: the timeout counts from its end
    return read(
        send(request("/v1/ends" + query).timeout(timeout.plus(wait)).GET()), OperationEnds.class);
  }

  @Override
  public void deleteDisk(String namespace, String name, String uid) {
    String query = "?uid=" + URLEncoder.encode(uid == null ? "" : uid, StandardCharsets.UTF_8);
    send(request(diskPath(namespace, name) + query).DELETE());
  }

  @Override
  public void releaseDisk(String namespace, String name, String uid) {
    String query = "?uid=" + URLEncoder.encode(uid == null ? "" : uid, StandardCharsets.UTF_8);
    send(
        request(diskPath(namespace, name) + "/release" + query)
            .POST(HttpRequest.BodyPublishers.noBody()));
  }

  @Override
  public String toString() {
    return "HttpAgentClient[" + endpoint + "]";
  }

  private static String diskPath(String namespace, String name) {
    return "/v1/disks/" + segment(namespace) + "/" + segment(name);
  }

  private static String segment(String value) {
    return URLEncoder.encode(value == null ? "" : value, StandardCharsets.UTF_8)
        .replace("+", "%20");
  }

  private HttpRequest.Builder request(String path) {
    return HttpRequest.newBuilder(URI.create(endpoint + path))
        .timeout(timeout)
        .header("Accept", "application/json")
        .header(Protocol.HEADER, protocol.header());
  }

  private HttpResponse<byte[]> send(HttpRequest.Builder builder) {
    HttpResponse<byte[]> response = sendAllowing404(builder);
    if (response.statusCode() == 404) throw error(response);
    return response;
  }

  private HttpResponse<byte[]> sendAllowing404(HttpRequest.Builder builder) {
    List<String> tried = tokens.get();
    HttpResponse<byte[]> response = null;
    for (int i = 0; i < tried.size(); i++) {
      // Every call is idempotent (the protocol's promise), so repeating one refused 401 is safe.
      response = sendWith(builder.copy().header("Authorization", "Bearer " + tried.get(i)));
      if (response.statusCode() != 401) break;
    }
    int status = response.statusCode();
    if (status == 404 || (status >= 200 && status < 300)) return response;
    throw error(response);
  }

  private HttpResponse<byte[]> sendWith(HttpRequest.Builder builder) {
    try {
      return http.send(builder.build(), HttpResponse.BodyHandlers.ofByteArray());
    } catch (IOException e) {
      String refusal = AgentTrust.identityRefusal(e);
      if (refusal != null) throw AgentNotTrustedException.identityMismatch(refusal);
      throw new AgentUnreachableException(endpoint.toString(), e);
    } catch (InterruptedException e) {
      Thread.currentThread().interrupt();
      throw new AgentUnreachableException(endpoint.toString(), e);
    }
  }

  private AgentException error(HttpResponse<byte[]> response) {
    int status = response.statusCode();
    try {
      ErrorBody body = JSON.readValue(response.body(), ErrorBody.class);
      if (body.code() != null) {
        return new AgentException(
            body.code(), status, "agent at " + endpoint + ": " + body.message());
      }
    } catch (IOException notJson) {
      // fall through: something other than the agent answered (a proxy, a wrong port)
    }
    String text = new String(response.body(), StandardCharsets.UTF_8);
    return new AgentException(
        status == 401 ? ErrorCodes.UNAUTHORIZED : ErrorCodes.INTERNAL,
        status,
        "agent at "
            + endpoint
            + " answered HTTP "
            + status
            + ": "
            + text.substring(0, Math.min(200, text.length())));
  }

  private <T> T read(HttpResponse<byte[]> response, Class<T> type) {
    try {
      return JSON.readValue(response.body(), type);
    } catch (IOException e) {
      throw new AgentException(
          ErrorCodes.INTERNAL,
          response.statusCode(),
          "agent at "
              + endpoint
              + " sent an answer that is not a "
              + type.getSimpleName()
              + ": "
              + e.getMessage(),
          e);
    }
  }
}
