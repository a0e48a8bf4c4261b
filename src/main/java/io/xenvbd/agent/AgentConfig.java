package io.xenvbd.agent;

import io.xenvbd.disk.UrlPolicy;
import java.net.InetSocketAddress;
import java.net.URI;
import java.nio.file.Path;
import java.time.Duration;
import java.util.List;
import java.util.Objects;

/**
 * Everything the agent reads at start, once. Built by {@link AgentCommand} from flags and their
 * environment twins, or directly by local mode and tests.
 *
 * @param advertise endpoint written to the Dom0Node; null: derived from the bound address and port
 * @param tlsCert PEM certificate chain; null only with {@code insecurePlainHttp}
 * @param token the bearer token every {@code /v1} call must carry (never logged)
 * @param retryFailedAfter a PUT that repeats a failed request starts it again only after this long,
 *     so an operator that re-sends its desired state every reconcile sees the failure first
 * @param peerCa the agents' CA (PEM), to check another node's agent when streaming a clone from it
 *     ({@code --peer-ca}); null: cross-node clones are refused on this node
 * @param urls which http(s) archive URLs may be fetched ({@code --allow-url}, {@code --allow-private-host});
 *     null: none
 */
public record AgentConfig(
    String nodeName,
    Path imagesRoot,
    List<Path> allowedSources,
    InetSocketAddress listen,
    URI advertise,
    Path tlsCert,
    Path tlsKey,
    boolean insecurePlainHttp,
    String token,
    int workers,
    Duration heartbeat,
    Duration loopWait,
    boolean metricsRequireToken,
    Duration retryFailedAfter,
    UrlPolicy urls,
    Path peerCa) {

  public static final Duration DEFAULT_RETRY_FAILED_AFTER = Duration.ofSeconds(30);

  public AgentConfig {
    Objects.requireNonNull(nodeName, "nodeName");
    Objects.requireNonNull(imagesRoot, "imagesRoot");
    Objects.requireNonNull(listen, "listen");
    allowedSources = List.copyOf(allowedSources == null ? List.of() : allowedSources);
    if (token == null || token.isBlank()) {
      throw new IllegalArgumentException("the agent token is empty: put the shared bearer token in the token file");
    }
    if (!insecurePlainHttp && (tlsCert == null || tlsKey == null)) {
      throw new IllegalArgumentException("TLS needs both --tls-cert and --tls-key (or --insecure-plain-http for local tests)");
    }
    if (workers < 1) throw new IllegalArgumentException("--workers must be at least 1, got " + workers);
    if (heartbeat == null || heartbeat.isNegative() || heartbeat.isZero()) {
      throw new IllegalArgumentException("--heartbeat must be at least 1 second");
    }
    if (loopWait == null || loopWait.isNegative()) throw new IllegalArgumentException("--loop-wait must not be negative");
    if (retryFailedAfter == null) retryFailedAfter = DEFAULT_RETRY_FAILED_AFTER;
    if (urls == null) urls = UrlPolicy.none();
  }

  /** No peer CA: cross-node clones are refused on this node. */
  public AgentConfig(String nodeName, Path imagesRoot, List<Path> allowedSources, InetSocketAddress listen, URI advertise,
      Path tlsCert, Path tlsKey, boolean insecurePlainHttp, String token, int workers, Duration heartbeat,
      Duration loopWait, boolean metricsRequireToken, Duration retryFailedAfter, UrlPolicy urls) {
    this(nodeName, imagesRoot, allowedSources, listen, advertise, tlsCert, tlsKey, insecurePlainHttp, token, workers,
        heartbeat, loopWait, metricsRequireToken, retryFailedAfter, urls, null);
  }

  /** No archive URL allowed. */
  public AgentConfig(String nodeName, Path imagesRoot, List<Path> allowedSources, InetSocketAddress listen, URI advertise,
      Path tlsCert, Path tlsKey, boolean insecurePlainHttp, String token, int workers, Duration heartbeat,
      Duration loopWait, boolean metricsRequireToken, Duration retryFailedAfter) {
    this(nodeName, imagesRoot, allowedSources, listen, advertise, tlsCert, tlsKey, insecurePlainHttp, token, workers,
        heartbeat, loopWait, metricsRequireToken, retryFailedAfter, UrlPolicy.none(), null);
  }

  /** Plain HTTP on 127.0.0.1 and any free port with the documented defaults: for tests and local mode. */
  public static AgentConfig localPlain(String nodeName, Path imagesRoot, List<Path> allowedSources, String token) {
    return new AgentConfig(nodeName, imagesRoot, allowedSources, new InetSocketAddress("127.0.0.1", 0), null,
        null, null, true, token, 2, Duration.ofSeconds(10), Duration.ofSeconds(60), false, DEFAULT_RETRY_FAILED_AFTER);
  }

  /** The same configuration serving HTTPS with the given PEM certificate and key. */
  public AgentConfig withTls(Path cert, Path key) {
    return new AgentConfig(nodeName, imagesRoot, allowedSources, listen, advertise, cert, key, false, token,
        workers, heartbeat, loopWait, metricsRequireToken, retryFailedAfter, urls, peerCa);
  }

  /** Bind elsewhere, and advertise {@code endpointOrNull} (null: derived from the bound address and port). */
  public AgentConfig withListen(InetSocketAddress address, URI endpointOrNull) {
    return new AgentConfig(nodeName, imagesRoot, allowedSources, address, endpointOrNull, tlsCert, tlsKey,
        insecurePlainHttp, token, workers, heartbeat, loopWait, metricsRequireToken, retryFailedAfter, urls, peerCa);
  }

  public AgentConfig withHeartbeat(Duration every) {
    return new AgentConfig(nodeName, imagesRoot, allowedSources, listen, advertise, tlsCert, tlsKey,
        insecurePlainHttp, token, workers, every, loopWait, metricsRequireToken, retryFailedAfter, urls, peerCa);
  }

  public AgentConfig withWorkers(int count) {
    return new AgentConfig(nodeName, imagesRoot, allowedSources, listen, advertise, tlsCert, tlsKey,
        insecurePlainHttp, token, count, heartbeat, loopWait, metricsRequireToken, retryFailedAfter, urls, peerCa);
  }

  public AgentConfig withMetricsRequireToken(boolean required) {
    return new AgentConfig(nodeName, imagesRoot, allowedSources, listen, advertise, tlsCert, tlsKey,
        insecurePlainHttp, token, workers, heartbeat, loopWait, required, retryFailedAfter, urls, peerCa);
  }

  public AgentConfig withRetryFailedAfter(Duration after) {
    return new AgentConfig(nodeName, imagesRoot, allowedSources, listen, advertise, tlsCert, tlsKey,
        insecurePlainHttp, token, workers, heartbeat, loopWait, metricsRequireToken, after, urls, peerCa);
  }

  /** Which archive URLs this agent may fetch. */
  public AgentConfig withUrls(UrlPolicy policy) {
    return new AgentConfig(nodeName, imagesRoot, allowedSources, listen, advertise, tlsCert, tlsKey,
        insecurePlainHttp, token, workers, heartbeat, loopWait, metricsRequireToken, retryFailedAfter, policy, peerCa);
  }

  /** Cross-node clones trust another node's agent when its certificate chains to {@code caPem} and names that node. */
  public AgentConfig withPeerCa(Path caPem) {
    return new AgentConfig(nodeName, imagesRoot, allowedSources, listen, advertise, tlsCert, tlsKey,
        insecurePlainHttp, token, workers, heartbeat, loopWait, metricsRequireToken, retryFailedAfter, urls, caPem);
  }

  /** Never prints the token. */
  @Override
  public String toString() {
    return "AgentConfig[node=" + nodeName + ", imagesRoot=" + imagesRoot + ", allowedSources=" + allowedSources
        + ", listen=" + listen + ", advertise=" + advertise + ", tls=" + (insecurePlainHttp ? "off" : tlsCert)
        + ", workers=" + workers + ", heartbeat=" + heartbeat + ", loopWait=" + loopWait
        + ", metricsRequireToken=" + metricsRequireToken + ", allowUrls=" + urls.allowedPrefixes()
        + ", allowPrivateHosts=" + urls.allowedPrivateHosts() + "]";
  }
}
