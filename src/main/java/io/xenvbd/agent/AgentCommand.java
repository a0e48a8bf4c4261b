package io.xenvbd.agent;

import io.fabric8.kubernetes.client.KubernetesClient;
import io.xenvbd.command.Foreground;
import io.xenvbd.command.KubeconfigOption;
import io.xenvbd.disk.DiskException;
import io.xenvbd.disk.EngineConfig;
import io.xenvbd.protocol.TokenFile;
import io.xenvbd.tls.ConfinedFile;
import io.xenvbd.tls.Rotating;
import java.io.IOException;
import java.net.InetSocketAddress;
import java.net.URI;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.Callable;
import picocli.CommandLine;
import picocli.CommandLine.Command;
import picocli.CommandLine.Option;

/**
 * {@code xenvbd agent}: the node agent of one dom0. Every flag has an environment-variable twin.
 */
@Command(
    name = "agent",
    mixinStandardHelpOptions = true,
    description =
        "Runs the node agent: the HTTPS API the operator calls to build, grow and delete images"
            + " under the images root, and the Dom0Node registration and heartbeat.")
public final class AgentCommand implements Callable<Integer> {

  @Option(
      names = "--node-name",
      defaultValue = "${env:NODE_NAME}",
      description = "Dom0Node name, the Kubernetes node's name (env NODE_NAME). Required.")
  String nodeName;

  @Option(
      names = "--images-root",
      defaultValue = "${env:XENVBD_IMAGES_ROOT:-/var/lib/xen/images}",
      description =
          "Directory holding every image (env XENVBD_IMAGES_ROOT, default ${DEFAULT-VALUE}).")
  Path imagesRoot;

  @Option(
      names = "--allow-source",
      split = ":",
      defaultValue = "${env:XENVBD_ALLOW_SOURCES}",
      description =
          "Directory populate.hostPaths may copy from and an archive at a node path may be read"
              + " from; repeatable"
              + " (env XENVBD_ALLOW_SOURCES, colon-separated). Default: none.")
  List<Path> allowSources = new ArrayList<>();

  @Option(
      names = "--import-dir",
      defaultValue = "${env:XENVBD_IMPORT_DIR}",
      paramLabel = "DIR",
      description =
          "Directory whose image files a VirtualDisk may adopt (spec.populate.adopt.importFile names one of"
              + " them, never a path): on the images root's filesystem, beside it, writable only by whom you trust to"
              + " hand images to tenants (env XENVBD_IMPORT_DIR). Default: none.")
  Path importDir;

  @Option(
      names = "--listen",
      defaultValue = "${env:XENVBD_LISTEN:-0.0.0.0:8443}",
      description = "address:port to bind (env XENVBD_LISTEN, default ${DEFAULT-VALUE}).")
  String listen;

  @Option(
      names = "--advertise",
      defaultValue = "${env:XENVBD_ADVERTISE}",
      description =
          "Endpoint written to the Dom0Node, e.g. https://10.0.0.5:8443 (env XENVBD_ADVERTISE,"
              + " default https://<hostname>:<port>).")
  URI advertise;

  @Option(
      names = "--tls-cert",
      defaultValue = "${env:XENVBD_TLS_CERT}",
      description =
          "PEM certificate chain (env XENVBD_TLS_CERT). Required unless --insecure-plain-http.")
  Path tlsCert;

  @Option(
      names = "--tls-key",
      defaultValue = "${env:XENVBD_TLS_KEY}",
      description = "PEM private key (env XENVBD_TLS_KEY). Required unless --insecure-plain-http.")
  Path tlsKey;

  @Option(
      names = "--peer-ca",
      defaultValue = "${env:XENVBD_PEER_CA}",
      description =
          "PEM CA certificate of the agents (the one the operator trusts). With it this agent can clone a"
              + " disk from another node's agent, which must present a certificate from this CA naming its node and"
              + " endpoint host. Without it, cross-node clones are refused here. Env: XENVBD_PEER_CA.")
  Path peerCa;

  @Option(
      names = "--insecure-plain-http",
      defaultValue = "${env:XENVBD_INSECURE_PLAIN_HTTP:-false}",
      description = "Serve plain HTTP: for local tests only (env XENVBD_INSECURE_PLAIN_HTTP).")
  boolean insecurePlainHttp;

  @Option(
      names = "--token-file",
      defaultValue = "${env:XENVBD_TOKEN_FILE}",
      description =
          "File holding the bearer token the operator sends (env XENVBD_TOKEN_FILE). Required.")
  Path tokenFile;

  @Option(
      names = "--workers",
      defaultValue = "${env:XENVBD_WORKERS:-" + AgentConfig.DEFAULT_WORKERS + "}",
      description =
          "Disk operations run at the same time (env XENVBD_WORKERS, default ${DEFAULT-VALUE}).")
  int workers;

  @Option(
      names = "--heartbeat",
      defaultValue =
          "${env:XENVBD_HEARTBEAT_SECONDS:-" + AgentConfig.DEFAULT_HEARTBEAT_SECONDS + "}",
      description =
          "Seconds between Dom0Node heartbeats (env XENVBD_HEARTBEAT_SECONDS, default ${DEFAULT-VALUE}).")
  long heartbeatSeconds;

  @Option(
      names = "--loop-wait",
      defaultValue =
          "${env:XENVBD_LOOP_WAIT_SECONDS:-" + AgentConfig.DEFAULT_LOOP_WAIT_SECONDS + "}",
      description =
          "Seconds LoopMount work waits for a free loop device before failing with"
              + " LoopDevicesExhausted (env XENVBD_LOOP_WAIT_SECONDS, default ${DEFAULT-VALUE}).")
  long loopWaitSeconds;

  @Option(
      names = "--loop-reserve",
      defaultValue = "${env:XENVBD_LOOP_RESERVE:-" + EngineConfig.DEFAULT_LOOP_RESERVE + "}",
      description =
          "Free loop devices that populate.method Auto leaves for guests: it copies a tree through a"
              + " loop mount (the faster path) only while more than this many are free, else builds Offline with"
              + " mke2fs -d (env XENVBD_LOOP_RESERVE, default ${DEFAULT-VALUE}).")
  int loopReserve;

  @Option(
      names = "--metrics-require-token",
      defaultValue = "${env:XENVBD_METRICS_REQUIRE_TOKEN:-false}",
      description = "/metrics needs the bearer token too (env XENVBD_METRICS_REQUIRE_TOKEN).")
  boolean metricsRequireToken;

  @Option(
      names = "--rotation-overlap",
      defaultValue =
          "${env:XENVBD_ROTATION_OVERLAP_SECONDS:-" + Rotating.DEFAULT_OVERLAP_SECONDS + "}",
      paramLabel = "SECONDS",
      description =
          "The token file, the TLS certificate and key, and the --peer-ca are re-read when their files change; the replaced one stays accepted this many seconds"
              + " (env XENVBD_ROTATION_OVERLAP_SECONDS, default ${DEFAULT-VALUE}). See docs/security.md, \"Rotation\".")
  long rotationOverlapSeconds;

  @CommandLine.Mixin UrlOptions urls = new UrlOptions();

  @CommandLine.Mixin KubeconfigOption kube = new KubeconfigOption();

  public static void main(String[] args) {
    System.exit(new CommandLine(new AgentCommand()).execute(args));
  }

  @Override
  public Integer call() throws Exception {
    AgentConfig config = toConfig();
    KubernetesClient client = kube.client();
    Agent agent;
    try {
      agent = Agent.start(config, client);
    } catch (DiskException e) {
      client.close();
      System.err.println(
          "xenvbd agent: " + e.getMessage()); // e.g. another agent has the images root
      return 1;
    }
    Foreground.onStop(
            "xenvbd-agent-shutdown",
            () -> {
              agent.close();
              client.close();
            })
        .await();
    return 0;
  }

  /** Validates the flags into one immutable value; every message says which flag to change. */
  AgentConfig toConfig() {
    if (nodeName == null || nodeName.isBlank()) {
      throw new CommandLine.ParameterException(
          new CommandLine(this),
          "--node-name (or NODE_NAME) is required: the Kubernetes node this agent serves");
    }
    if (tokenFile == null) {
      throw new CommandLine.ParameterException(
          new CommandLine(this),
          "--token-file (or XENVBD_TOKEN_FILE) is required: the file holding the operator's bearer token");
    }
    String token;
    try {
      // read as the agent reads it again after a rotation (see tls.Rotating)
      token = TokenFile.parse(ConfinedFile.read(tokenFile, TokenFile.MAX_BYTES));
    } catch (IOException e) {
      throw new CommandLine.ParameterException(
          new CommandLine(this), "cannot read --token-file " + tokenFile + ": " + e.getMessage());
    }
    List<Path> allowed = allowSources.stream().filter(p -> !p.toString().isBlank()).toList();
    Path tokenPath = tokenFile.toAbsolutePath().normalize();
    for (Path a : allowed) {
      Path dir = a.toAbsolutePath().normalize();
      if (tokenPath.startsWith(dir)) {
        throw new CommandLine.ParameterException(
            new CommandLine(this),
            "--allow-source "
                + a
                + " holds the agent's"
                + " --token-file "
                + tokenFile
                + ": a disk could copy the token; allow a narrower directory");
      }
    }
    try {
      return AgentConfig.builder(nodeName, imagesRoot, token)
          .allowedSources(allowed)
          .listen(listenAddress(listen))
          .advertise(advertise)
          .tls(tlsCert, tlsKey)
          .insecurePlainHttp(insecurePlainHttp)
          .workers(workers)
          .heartbeat(Duration.ofSeconds(heartbeatSeconds))
          .loopWait(Duration.ofSeconds(loopWaitSeconds))
          .loopReserve(loopReserve)
          .metricsRequireToken(metricsRequireToken)
          .urls(urls.policy())
          .importDir(importDir)
          .peerCa(peerCa)
          .tokenFile(tokenFile)
          .rotationOverlap(overlap(rotationOverlapSeconds))
          .build();
    } catch (IllegalArgumentException e) {
      throw new CommandLine.ParameterException(new CommandLine(this), e.getMessage());
    }
  }

  static Duration overlap(long seconds) {
    if (seconds < 0)
      throw new IllegalArgumentException(
          "--rotation-overlap must not be negative, got " + seconds + " seconds");
    return Duration.ofSeconds(seconds);
  }

  /** {@code host:port} or {@code [v6]:port}. */
  static InetSocketAddress listenAddress(String value) {
    int colon = value == null ? -1 : value.lastIndexOf(':');
    if (colon <= 0)
      throw new IllegalArgumentException(
          "--listen '" + value + "' must be address:port, e.g. 0.0.0.0:8443");
    String host = value.substring(0, colon).replace("[", "").replace("]", "");
    int port;
    try {
      port = Integer.parseInt(value.substring(colon + 1));
    } catch (NumberFormatException e) {
      throw new IllegalArgumentException(
          "--listen '" + value + "': the port must be a number, e.g. 0.0.0.0:8443");
    }
    if (port < 0 || port > 65535)
      throw new IllegalArgumentException("--listen port " + port + " is out of range 0-65535");
    return new InetSocketAddress(host, port);
  }
}
