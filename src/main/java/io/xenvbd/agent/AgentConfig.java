package io.xenvbd.agent;

import io.xenvbd.disk.EngineConfig;
import io.xenvbd.disk.UrlPolicy;
import io.xenvbd.tls.Rotating;
import java.net.InetSocketAddress;
import java.net.URI;
import java.nio.file.Path;
import java.time.Duration;
import java.util.List;
import java.util.Objects;

/**
 * Everything the agent reads at start, once. Built with {@link #builder} (named settings, the
 * defaults in one place) by {@link AgentCommand} from flags and their environment twins, and by
 * local mode and tests.
 *
 * @param advertise endpoint written to the Dom0Node; null: derived from the bound address and port
 * @param tlsCert PEM certificate chain; null only with {@code insecurePlainHttp}
 * @param token the bearer token every {@code /v1} call must carry (never logged)
 * @param retryFailedAfter a PUT that repeats a failed request starts it again only after this long,
 *     so an operator that re-sends its desired state every reconcile sees the failure first
 * @param peerCa the agents' CA (PEM), to check another node's agent when streaming a clone from it
 *     ({@code --peer-ca}); null: cross-node clones are refused on this node
 * @param urls which http(s) archive URLs may be fetched ({@code --allow-url}, {@code
 *     --allow-private-host}); null: none
 * @param importDir the directory whose files a VirtualDisk may adopt ({@code --import-dir}); null:
 *     none
 * @param tokenFile the file {@code token} was read from, watched for a rotated token; null: {@code
 *     token} is fixed
 * @param rotationOverlap how long a replaced token, certificate or peer CA stays accepted after its
 *     file changed ({@code --rotation-overlap})
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
    Path importDir,
    int loopReserve,
    Path peerCa,
    Path tokenFile,
    Duration rotationOverlap) {

  public static final Duration DEFAULT_RETRY_FAILED_AFTER = Duration.ofSeconds(30);

  /**
   * The defaults of the builder and of the agent's flags alike (the flags name these constants).
   */
  public static final int DEFAULT_WORKERS = 2;

  public static final int DEFAULT_HEARTBEAT_SECONDS = 10;
  public static final int DEFAULT_LOOP_WAIT_SECONDS = 60;

  public AgentConfig {
    Objects.requireNonNull(nodeName, "nodeName");
    Objects.requireNonNull(imagesRoot, "imagesRoot");
    Objects.requireNonNull(listen, "listen");
    allowedSources = List.copyOf(allowedSources == null ? List.of() : allowedSources);
    if (token == null || token.isBlank()) {
      throw new IllegalArgumentException(
          "the agent token is empty: put the shared bearer token in the token file");
    }
    if (!insecurePlainHttp && (tlsCert == null || tlsKey == null)) {
      throw new IllegalArgumentException(
          "TLS needs both --tls-cert and --tls-key (or --insecure-plain-http for local tests)");
    }
    if (workers < 1)
      throw new IllegalArgumentException("--workers must be at least 1, got " + workers);
    if (heartbeat == null || heartbeat.isNegative() || heartbeat.isZero()) {
      throw new IllegalArgumentException("--heartbeat must be at least 1 second");
    }
    if (loopWait == null || loopWait.isNegative())
      throw new IllegalArgumentException("--loop-wait must not be negative");
    if (retryFailedAfter == null) retryFailedAfter = DEFAULT_RETRY_FAILED_AFTER;
    if (urls == null) urls = UrlPolicy.none();
    if (loopReserve < 0)
      throw new IllegalArgumentException("--loop-reserve must not be negative, got " + loopReserve);
    if (rotationOverlap == null) rotationOverlap = Rotating.DEFAULT_OVERLAP;
    if (rotationOverlap.isNegative())
      throw new IllegalArgumentException("--rotation-overlap must not be negative");
  }

  /**
   * A configuration for {@code nodeName} serving {@code imagesRoot} and accepting {@code token},
   * with the documented defaults for everything else; set what differs by name. Binding ({@link
   * Builder#listen}) and transport ({@link Builder#tls} or {@link Builder#insecurePlainHttp}) have
   * no default.
   */
  public static Builder builder(String nodeName, Path imagesRoot, String token) {
    return new Builder(nodeName, imagesRoot, token);
  }

  /**
   * Plain HTTP on 127.0.0.1 and any free port with the documented defaults: for tests and local
   * mode.
   */
  public static Builder localPlain(
      String nodeName, Path imagesRoot, List<Path> allowedSources, String token) {
    return builder(nodeName, imagesRoot, token)
        .allowedSources(allowedSources)
        .listen(new InetSocketAddress("127.0.0.1", 0))
        .insecurePlainHttp(true);
  }

  /** A builder holding this configuration, to change a few settings by name. */
  public Builder toBuilder() {
    return builder(nodeName, imagesRoot, token)
        .allowedSources(allowedSources)
        .listen(listen)
        .advertise(advertise)
        .tls(tlsCert, tlsKey)
        .insecurePlainHttp(insecurePlainHttp)
        .workers(workers)
        .heartbeat(heartbeat)
        .loopWait(loopWait)
        .metricsRequireToken(metricsRequireToken)
        .retryFailedAfter(retryFailedAfter)
        .urls(urls)
        .importDir(importDir)
        .loopReserve(loopReserve)
        .peerCa(peerCa)
        .tokenFile(tokenFile)
        .rotationOverlap(rotationOverlap);
  }

  /** Named settings with the defaults in one place; {@link #build} checks them. */
  public static final class Builder {
    private final String nodeName;
    private final Path imagesRoot;
    private final String token;
    private List<Path> allowedSources = List.of();
    private InetSocketAddress listen;
    private URI advertise;
    private Path tlsCert;
    private Path tlsKey;
    private boolean insecurePlainHttp;
    private int workers = DEFAULT_WORKERS;
    private Duration heartbeat = Duration.ofSeconds(DEFAULT_HEARTBEAT_SECONDS);
    private Duration loopWait = Duration.ofSeconds(DEFAULT_LOOP_WAIT_SECONDS);
    private boolean metricsRequireToken;
    private Duration retryFailedAfter = DEFAULT_RETRY_FAILED_AFTER;
    private UrlPolicy urls = UrlPolicy.none();
    private Path importDir;
    private int loopReserve = EngineConfig.DEFAULT_LOOP_RESERVE;
    private Path peerCa;
    private Path tokenFile;
    private Duration rotationOverlap = Rotating.DEFAULT_OVERLAP;

    private Builder(String nodeName, Path imagesRoot, String token) {
      this.nodeName = nodeName;
      this.imagesRoot = imagesRoot;
      this.token = token;
    }

    /** Directories populate.hostPaths and archive paths may read from. Default: none. */
    public Builder allowedSources(List<Path> value) {
      allowedSources = value;
      return this;
    }

    public Builder listen(InetSocketAddress value) {
      listen = value;
      return this;
    }

    /**
     * The endpoint written to the Dom0Node. Default (null): derived from the bound address and
     * port.
     */
    public Builder advertise(URI value) {
      advertise = value;
      return this;
    }

    /** Serve HTTPS with this PEM certificate chain and key (and so not plain HTTP). */
    public Builder tls(Path cert, Path key) {
      tlsCert = cert;
      tlsKey = key;
      insecurePlainHttp = false;
      return this;
    }

    /** Serve plain HTTP: for local tests only. Default: false. */
    public Builder insecurePlainHttp(boolean value) {
      insecurePlainHttp = value;
      return this;
    }

    /** Disk operations run at the same time. Default: {@value AgentConfig#DEFAULT_WORKERS}. */
    public Builder workers(int value) {
      workers = value;
      return this;
    }

    /**
     * Time between Dom0Node heartbeats. Default: {@value AgentConfig#DEFAULT_HEARTBEAT_SECONDS} s.
     */
    public Builder heartbeat(Duration value) {
      heartbeat = value;
      return this;
    }

    /**
     * How long LoopMount work waits for a free loop device. Default: {@value
     * AgentConfig#DEFAULT_LOOP_WAIT_SECONDS} s.
     */
    /**
     * Free loop devices that Auto leaves for guests: it builds through a loop device only above
     * this.
     */
    public Builder loopReserve(int value) {
      loopReserve = value;
      return this;
    }

    public Builder loopWait(Duration value) {
      loopWait = value;
      return this;
    }

    /** Whether /metrics needs the bearer token too. Default: false. */
    public Builder metricsRequireToken(boolean value) {
      metricsRequireToken = value;
      return this;
    }

    /** Default: {@link AgentConfig#DEFAULT_RETRY_FAILED_AFTER}. */
    public Builder retryFailedAfter(Duration value) {
      retryFailedAfter = value;
      return this;
    }

    /** Which archive URLs may be fetched. Default: none. */
    public Builder urls(UrlPolicy value) {
      urls = value;
      return this;
    }

    /** The directory whose files a VirtualDisk may adopt ({@code --import-dir}). Default: none. */
    public Builder importDir(Path value) {
      importDir = value;
      return this;
    }

    /**
     * Cross-node clones trust another node's agent when its certificate chains to this PEM CA and
     * names that node ({@code --peer-ca}). Default: none, so cross-node clones are refused on this
     * node.
     */
    public Builder peerCa(Path value) {
      peerCa = value;
      return this;
    }

    /**
     * Watch this file (which holds the token given to {@link AgentConfig#builder}) and accept the
     * token it holds after a change ({@code --token-file}). Default: none, the token is fixed.
     */
    public Builder tokenFile(Path value) {
      tokenFile = value;
      return this;
    }

    /**
     * How long the replaced token, certificate or peer CA stays accepted after its file changed.
     * Default: {@link Rotating#DEFAULT_OVERLAP}.
     */
    public Builder rotationOverlap(Duration value) {
      rotationOverlap = value;
      return this;
    }

    /**
     * @throws IllegalArgumentException with a message naming the flag to change
     */
    public AgentConfig build() {
      return new AgentConfig(
          nodeName,
          imagesRoot,
          allowedSources,
          listen,
          advertise,
          tlsCert,
          tlsKey,
          insecurePlainHttp,
          token,
          workers,
          heartbeat,
          loopWait,
          metricsRequireToken,
          retryFailedAfter,
          urls,
          importDir,
          loopReserve,
          peerCa,
          tokenFile,
          rotationOverlap);
    }
  }

  /** Never prints the token. */
  @Override
  public String toString() {
    return "AgentConfig[node="
        + nodeName
        + ", imagesRoot="
        + imagesRoot
        + ", allowedSources="
        + allowedSources
        + ", listen="
        + listen
        + ", advertise="
        + advertise
        + ", tls="
        + (insecurePlainHttp ? "off" : tlsCert)
        + ", workers="
        + workers
        + ", heartbeat="
        + heartbeat
        + ", loopWait="
        + loopWait
        + ", loopReserve="
        + loopReserve
        + ", metricsRequireToken="
        + metricsRequireToken
        + ", allowUrls="
        + urls.allowedPrefixes()
        + ", allowPrivateHosts="
        + urls.allowedPrivateHosts()
        + ", importDir="
        + importDir
        + ", rotationOverlap="
        + rotationOverlap
        + "]";
  }
}
