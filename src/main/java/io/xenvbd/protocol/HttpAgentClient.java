package io.xenvbd.protocol;

import com.fasterxml.jackson.core.JsonProcessingException;
import com.fasterxml.jackson.databind.DeserializationFeature;
import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.json.JsonMapper;
import java.io.IOException;
import java.net.URI;
import java.net.URLEncoder;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.nio.charset.StandardCharsets;
import java.time.Duration;
import java.util.Map;
import java.util.Optional;
import java.util.concurrent.ConcurrentHashMap;
import javax.net.ssl.SSLContext;

/**
 * {@link AgentClient} over HTTP(S) with the JDK's client and a bearer token. Errors the agent
 * answers become {@link AgentException} with its code; failures to reach it become
 * {@link AgentUnreachableException}.
 */
public final class HttpAgentClient implements AgentClient {

  /** Tolerant of fields a newer agent may add, so operator and agents can be upgraded one at a time. */
  private static final ObjectMapper JSON = JsonMapper.builder()
      .disable(DeserializationFeature.FAIL_ON_UNKNOWN_PROPERTIES).build();
  private static final Duration DEFAULT_TIMEOUT = Duration.ofSeconds(15);

  private final URI endpoint;
  private final String token;
  private final HttpClient http;
  private final Duration timeout;

  /** {@code ssl} null: the JDK's default trust (or plain http when the endpoint says so). */
  public HttpAgentClient(URI endpoint, String token, SSLContext ssl, Duration timeout) {
    this(endpoint, token, newHttpClient(ssl, timeout), timeout);
  }

  private HttpAgentClient(URI endpoint, String token, HttpClient http, Duration timeout) {
    String base = endpoint.toString();
    this.endpoint = URI.create(base.endsWith("/") ? base.substring(0, base.length() - 1) : base);
    this.token = token;
    this.http = http;
    this.timeout = timeout;
  }

  /** Clients for any endpoint, sharing one connection pool; {@code sslOrNull} trusts the agents' CA. */
  public static AgentClientFactory factory(String token, SSLContext sslOrNull) {
    HttpClient shared = newHttpClient(sslOrNull, DEFAULT_TIMEOUT);
    Map<String, AgentClient> clients = new ConcurrentHashMap<>();
    return endpoint -> clients.computeIfAbsent(endpoint,
        e -> new HttpAgentClient(URI.create(e), token, shared, DEFAULT_TIMEOUT));
  }

  private static HttpClient newHttpClient(SSLContext ssl, Duration timeout) {
    HttpClient.Builder builder = HttpClient.newBuilder().connectTimeout(timeout)
        .version(HttpClient.Version.HTTP_1_1);
    if (ssl != null) builder.sslContext(ssl);
    return builder.build();
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
      throw new IllegalArgumentException("cannot encode the disk request: " + e.getOriginalMessage(), e);
    }
    return read(send(request(diskPath(namespace, name)).header("Content-Type", "application/json")
        .PUT(HttpRequest.BodyPublishers.ofByteArray(json))), DiskState.class);
  }

  @Override
  public Optional<DiskState> getDisk(String namespace, String name) {
    HttpResponse<byte[]> response = sendAllowing404(request(diskPath(namespace, name)).GET());
    return response.statusCode() == 404 ? Optional.empty() : Optional.of(read(response, DiskState.class));
  }

  @Override
  public void deleteDisk(String namespace, String name, String uid) {
    String query = "?uid=" + URLEncoder.encode(uid == null ? "" : uid, StandardCharsets.UTF_8);
    send(request(diskPath(namespace, name) + query).DELETE());
  }

  @Override
  public String toString() {
    return "HttpAgentClient[" + endpoint + "]";
  }

  private static String diskPath(String namespace, String name) {
    return "/v1/disks/" + segment(namespace) + "/" + segment(name);
  }

  private static String segment(String value) {
    return URLEncoder.encode(value == null ? "" : value, StandardCharsets.UTF_8).replace("+", "%20");
  }

  private HttpRequest.Builder request(String path) {
    return HttpRequest.newBuilder(URI.create(endpoint + path)).timeout(timeout)
        .header("Authorization", "Bearer " + token).header("Accept", "application/json")
        .header(Protocol.HEADER, Integer.toString(Protocol.VERSION));
  }

  private HttpResponse<byte[]> send(HttpRequest.Builder builder) {
    HttpResponse<byte[]> response = sendAllowing404(builder);
    if (response.statusCode() == 404) throw error(response);
    return response;
  }

  private HttpResponse<byte[]> sendAllowing404(HttpRequest.Builder builder) {
    HttpResponse<byte[]> response;
    try {
      response = http.send(builder.build(), HttpResponse.BodyHandlers.ofByteArray());
    } catch (IOException e) {
      throw new AgentUnreachableException(endpoint.toString(), e);
    } catch (InterruptedException e) {
      Thread.currentThread().interrupt();
      throw new AgentUnreachableException(endpoint.toString(), e);
    }
    int status = response.statusCode();
    if (status == 404 || (status >= 200 && status < 300)) return response;
    throw error(response);
  }

  private AgentException error(HttpResponse<byte[]> response) {
    int status = response.statusCode();
    try {
      ErrorBody body = JSON.readValue(response.body(), ErrorBody.class);
      if (body.code() != null) {
        return new AgentException(body.code(), status, "agent at " + endpoint + ": " + body.message());
      }
    } catch (IOException notJson) {
      // fall through: something other than the agent answered (a proxy, a wrong port)
    }
    String text = new String(response.body(), StandardCharsets.UTF_8);
    return new AgentException(status == 401 ? ErrorCodes.UNAUTHORIZED : ErrorCodes.INTERNAL, status,
        "agent at " + endpoint + " answered HTTP " + status + ": " + text.substring(0, Math.min(200, text.length())));
  }

  private <T> T read(HttpResponse<byte[]> response, Class<T> type) {
    try {
      return JSON.readValue(response.body(), type);
    } catch (IOException e) {
      throw new AgentException(ErrorCodes.INTERNAL, response.statusCode(),
          "agent at " + endpoint + " sent an answer that is not a " + type.getSimpleName() + ": " + e.getMessage(), e);
    }
  }
}
