package io.xenvbd.client;

import io.xenvbd.api.Validation;
import io.xenvbd.protocol.AgentClient;
import io.xenvbd.protocol.AgentClientFactory;
import io.xenvbd.protocol.AgentUnreachableException;
import io.xenvbd.protocol.Protocol;
import java.net.URI;
import java.net.http.HttpClient;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.concurrent.ConcurrentHashMap;
import javax.net.ssl.SSLContext;

/**
 * The production {@link AgentClientFactory}: one client per node, replaced when the node's endpoint
 * changes or the trusted CAs do; tokens are looked up at every call. With {@link
 * AgentTrust.Identity#NODE} every node gets its own HTTP client (its own connection pool), because
 * identity is checked at the handshake and a pooled connection proven for one node must never carry
 * another node's request.
 */
final class AgentClients implements AgentClientFactory {
  private record Entry(String endpoint, long trustEpoch, AgentClient client) {}

  private final NodeTokens tokens;
  private final AgentTrust trust;
  private final boolean tls;
  private final SSLContext sharedSsl;
  private volatile Shared shared;

  /** The client every node without an identity of its own shares, for one trust epoch. */
  private record Shared(long epoch, HttpClient http) {}

  private final Duration timeout;
  private final Protocol protocol;
  private final Map<String, Entry> clients = new ConcurrentHashMap<>();

  /**
   * {@code trust} null: {@code sharedSsl} (or, when null too, plain HTTP and the JDK's default
   * trust) for all.
   */
  AgentClients(NodeTokens tokens, AgentTrust trust, SSLContext sharedSsl, Duration timeout) {
    this(tokens, trust, sharedSsl, timeout, Protocol.CURRENT);
  }

  AgentClients(
      NodeTokens tokens,
      AgentTrust trust,
      SSLContext sharedSsl,
      Duration timeout,
      Protocol protocol) {
    this.protocol = protocol;
    this.tokens = tokens;
    this.trust = trust;
    this.tls = trust != null || sharedSsl != null;
    this.timeout = timeout;
    this.sharedSsl = sharedSsl;
  }

  private long epoch() {
    return trust == null ? 0 : trust.epoch();
  }

  /** New when the trusted CAs changed, so no connection or TLS session outlives the old trust. */
  private HttpClient shared(long epoch) {
    Shared s = shared;
    if (s == null || s.epoch() != epoch) {
      SSLContext ssl = trust != null ? trust.anyAgent() : sharedSsl;
      s = new Shared(epoch, HttpAgentClient.newHttpClient(ssl, timeout));
      shared = s;
    }
    return s.http();
  }

  @Override
  public AgentClient forNode(String nodeName, String endpoint) {
    // a DNS-1123 subdomain is one path segment with no leading dot, safe as a token file's name
    if (!Validation.isDns1123Subdomain(nodeName)) {
      throw new AgentUnreachableException(
          "'"
              + HttpAgentClient.shown(nodeName)
              + "' is not a Kubernetes node name, so no agent is called for it");
    }
    URI uri = HttpAgentClient.checkedEndpoint(endpoint, tls);
    tokens.tokensFor(nodeName); // a token file that cannot be used is refused here, before a call
    long epoch = epoch();
    return clients
        .compute(
            nodeName,
            (node, old) ->
                old != null && old.endpoint().equals(endpoint) && old.trustEpoch() == epoch
                    ? old
                    : new Entry(endpoint, epoch, newClient(node, uri, epoch)))
        .client();
  }

  @Override
  public List<String> credentialProblems() {
    List<String> out = new ArrayList<>(tokens.problems());
    if (trust != null && trust.error() != null) out.add(trust.error());
    return out;
  }

  private AgentClient newClient(String node, URI endpoint, long epoch) {
    boolean perNode = trust != null && trust.identity() == AgentTrust.Identity.NODE;
    HttpClient http =
        perNode
            ? HttpAgentClient.newHttpClient(trust.contextFor(node, endpoint.getHost()), timeout)
            : shared(epoch);
    return new HttpAgentClient(endpoint, () -> tokens.tokensFor(node), http, timeout, protocol);
  }
}
