package io.xenvbd.testing;

import io.fabric8.kubernetes.client.Config;
import io.fabric8.kubernetes.client.ConfigBuilder;
import io.fabric8.kubernetes.client.KubernetesClient;
import io.fabric8.kubernetes.client.KubernetesClientBuilder;
import io.xenvbd.ca.CertificateAuthority;
import io.xenvbd.tls.Tls;
import java.io.IOException;
import java.io.UncheckedIOException;
import java.net.InetAddress;
import java.net.ServerSocket;
import java.net.URI;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.nio.file.Files;
import java.nio.file.Path;
import java.security.SecureRandom;
import java.time.Duration;
import java.util.ArrayList;
import java.util.Comparator;
import java.util.HexFormat;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.concurrent.TimeUnit;
import java.util.stream.Stream;

/**
 * A real etcd and kube-apiserver on loopback, in a temporary directory, with RBAC on and three
 * identities known by bearer token (the API server's {@code --token-auth-file}): an admin in {@code
 * system:masters}, and the operator's and the agent's ServiceAccounts as the Helm chart names them
 * for release {@code xv} in {@code xenvbd-system}, so that RoleBindings rendered from the chart
 * apply to them exactly as on a cluster. No controller-manager runs: no garbage collection and no
 * namespace finalization.
 *
 * <p>Every request is written to an audit log at Metadata level (who, verb, resource, response
 * code), which {@link #audit()} reads: what the product really called, as the authorizer judged it.
 *
 * <p>Start it through {@link RequiresKubeApiServer}, which shares one per test JVM; {@link #close}
 * kills both processes and deletes the directory, and a shutdown hook does so if the JVM ends
 * first.
 */
public final class RealKubeApiServer implements AutoCloseable {
  /** Who calls the API server: its user name and groups, as the authorizer sees them. */
  public record Identity(String user, List<String> groups) {
    static Identity serviceAccount(String namespace, String name) {
      return new Identity(
          "system:serviceaccount:" + namespace + ":" + name,
          List.of("system:serviceaccounts", "system:serviceaccounts:" + namespace));
    }
  }

  public static final String NAMESPACE = "xenvbd-system";
  public static final Identity ADMIN = new Identity("xenvbd-test-admin", List.of("system:masters"));
  public static final Identity OPERATOR = Identity.serviceAccount(NAMESPACE, "xv-xenvbd-operator");
  public static final Identity AGENT = Identity.serviceAccount(NAMESPACE, "xv-xenvbd-agent");
  private static final Duration START_TIMEOUT = Duration.ofSeconds(120);

  private final KubeBinaries binaries;
  private final Path dir;
  private final Map<Identity, String> tokens = new LinkedHashMap<>();
  private final List<Process> processes = new ArrayList<>();
  private final Thread shutdownHook = new Thread(this::stopProcesses, "kube-apiserver-stop");
  private Path caCert;
  private String url;

  private RealKubeApiServer(KubeBinaries binaries, Path dir) {
    this.binaries = binaries;
    this.dir = dir;
  }

  /** Starts etcd and kube-apiserver and waits until the API server reports ready. */
  public static RealKubeApiServer start(KubeBinaries binaries) {
    try {
      RealKubeApiServer server =
          new RealKubeApiServer(binaries, Files.createTempDirectory("xenvbd-kube-"));
      Runtime.getRuntime().addShutdownHook(server.shutdownHook);
      try {
        server.startProcesses();
        return server;
      } catch (RuntimeException e) {
        server.close();
        throw e;
      }
    } catch (IOException e) {
      throw new UncheckedIOException(e);
    }
  }

  private void startProcesses() throws IOException {
    CertificateAuthority ca = CertificateAuthority.create(dir.resolve("ca"));
    caCert = ca.caCert();
    CertificateAuthority.Issued serving =
        ca.issue(dir.resolve("serving"), List.of("127.0.0.1", "localhost"));
    CertificateAuthority.Issued signing =
        ca.issue(dir.resolve("service-account"), List.of("service-accounts"));
    StringBuilder tokenFile = new StringBuilder();
    int uid = 0;
    for (Identity id : List.of(ADMIN, OPERATOR, AGENT)) {
      String token = randomToken();
      tokens.put(id, token);
      tokenFile
          .append(token)
          .append(',')
          .append(id.user())
          .append(",uid-")
          .append(++uid)
          .append(",\"")
          .append(String.join(",", id.groups()))
          .append("\"\n");
    }
    Path tokenCsv = Files.writeString(dir.resolve("tokens.csv"), tokenFile);
    Path auditPolicy =
        Files.writeString(
            dir.resolve("audit-policy.yaml"),
            """
        apiVersion: audit.k8s.io/v1
        kind: Policy
        omitStages: ["RequestReceived"]
        rules:
        - level: Metadata
        """);

    int etcdClient = freePort();
    int etcdPeer = freePort();
    int securePort = freePort();
    start(
        "etcd",
        List.of(
            binaries.etcd().toString(),
            "--name=default",
            "--data-dir=" + dir.resolve("etcd"),
            "--listen-client-urls=http://127.0.0.1:" + etcdClient,
            "--advertise-client-urls=http://127.0.0.1:" + etcdClient,
            "--listen-peer-urls=http://127.0.0.1:" + etcdPeer,
            "--initial-advertise-peer-urls=http://127.0.0.1:" + etcdPeer,
            "--initial-cluster=default=http://127.0.0.1:" + etcdPeer,
            "--unsafe-no-fsync=true",
            "--log-level=warn"));
    start(
        "kube-apiserver",
        List.of(
            binaries.kubeApiServer().toString(),
            "--etcd-servers=http://127.0.0.1:" + etcdClient,
            "--bind-address=127.0.0.1",
            "--advertise-address=127.0.0.1",
            "--secure-port=" + securePort,
            "--tls-cert-file=" + serving.cert(),
            "--tls-private-key-file=" + serving.key(),
            "--cert-dir=" + dir.resolve("certs"),
            "--authorization-mode=RBAC",
            "--token-auth-file=" + tokenCsv,
            "--anonymous-auth=false",
            "--service-account-issuer=https://kubernetes.default.svc",
            "--service-account-key-file=" + signing.cert(),
            "--service-account-signing-key-file=" + signing.key(),
            "--service-cluster-ip-range=10.0.0.0/24",
            "--allow-privileged=true",
            "--disable-admission-plugins=ServiceAccount",
            "--audit-policy-file=" + auditPolicy,
            "--audit-log-path=" + auditLog(),
            "--audit-log-mode=blocking"));
    url = "https://127.0.0.1:" + securePort;
    awaitReady();
  }

  private void start(String name, List<String> command) throws IOException {
    Path log = dir.resolve(name + ".log");
    processes.add(
        new ProcessBuilder(command).redirectErrorStream(true).redirectOutput(log.toFile()).start());
  }

  private void awaitReady() {
    HttpClient http =
        HttpClient.newBuilder()
            .sslContext(Tls.clientContext(caCert))
            .connectTimeout(Duration.ofSeconds(2))
            .build();
    HttpRequest readyz =
        HttpRequest.newBuilder(URI.create(url + "/readyz"))
            .header("Authorization", "Bearer " + tokens.get(ADMIN))
            .timeout(Duration.ofSeconds(5))
            .build();
    long deadline = System.nanoTime() + START_TIMEOUT.toNanos();
    String last = "no answer yet";
    while (System.nanoTime() < deadline) {
      for (Process p : processes) {
        if (!p.isAlive()) throw startFailure("a process exited with " + p.exitValue());
      }
      try {
        HttpResponse<String> r = http.send(readyz, HttpResponse.BodyHandlers.ofString());
        if (r.statusCode() == 200) return;
        last = r.statusCode() + " " + r.body();
      } catch (IOException e) {
        last = e.toString();
      } catch (InterruptedException e) {
        Thread.currentThread().interrupt();
        throw startFailure("interrupted");
      }
      sleep(250);
    }
    throw startFailure(
        "not ready after " + START_TIMEOUT.toSeconds() + " s (last /readyz: " + last + ")");
  }

  private IllegalStateException startFailure(String why) {
    StringBuilder logs = new StringBuilder();
    for (String name : List.of("etcd", "kube-apiserver")) {
      try {
        List<String> lines = Files.readAllLines(dir.resolve(name + ".log"));
        logs.append("\n--- last lines of ")
            .append(name)
            .append(".log:\n")
            .append(String.join("\n", lines.subList(Math.max(0, lines.size() - 30), lines.size())));
      } catch (IOException ignored) {
        // that process never started
      }
    }
    return new IllegalStateException(
        "kube-apiserver " + binaries.version() + " did not start: " + why + logs);
  }

  /** {@code https://127.0.0.1:<port>}. */
  public String url() {
    return url;
  }

  public KubeBinaries binaries() {
    return binaries;
  }

  /** The API server's audit log: one JSON event per line, written as each request completes. */
  public Path auditLog() {
    return dir.resolve("audit.log");
  }

  /**
   * The audit log read from the start; {@link ApiServerAudit#since} narrows it to a test's own
   * span.
   */
  public ApiServerAudit audit() {
    return ApiServerAudit.read(auditLog());
  }

  /** The bearer token the API server knows this identity by. */
  public String token(Identity who) {
    return tokens.get(who);
  }

  /**
   * A fabric8 configuration for this identity, nothing read from the environment or ~/.kube; with
   * fabric8's default retries, as the operator and agent have in a cluster (a real server answers
   * 429 while the storage of a just-established CRD initializes).
   */
  public ConfigBuilder clientConfig(Identity who) {
    return new ConfigBuilder(Config.empty())
        .withMasterUrl(url)
        .withOauthToken(token(who))
        .withCaCertFile(caCert.toString())
        .withNamespace("default");
  }

  /** A new fabric8 client acting as this identity; the caller closes it. */
  public KubernetesClient client(Identity who) {
    return new KubernetesClientBuilder().withConfig(clientConfig(who).build()).build();
  }

  /** A kubeconfig file for this identity (in this server's directory, deleted with it). */
  public Path kubeconfig(Identity who) {
    Path file = dir.resolve("kubeconfig-" + who.user().replaceAll("[^A-Za-z0-9-]", "_"));
    String yaml =
        """
        apiVersion: v1
        kind: Config
        clusters:
        - name: real
          cluster: {server: "%s", certificate-authority: "%s"}
        users:
        - name: user
          user: {token: "%s"}
        contexts:
        - name: real
          context: {cluster: real, user: user, namespace: default}
        current-context: real
        """
            .formatted(url, caCert, token(who));
    try {
      return Files.writeString(file, yaml);
    } catch (IOException e) {
      throw new UncheckedIOException(e);
    }
  }

  @Override
  public void close() {
    stopProcesses();
    try {
      Runtime.getRuntime().removeShutdownHook(shutdownHook);
    } catch (IllegalStateException alreadyShuttingDown) {
      // the hook is running or has run
    }
    try (Stream<Path> files = Files.walk(dir)) {
      files.sorted(Comparator.reverseOrder()).forEach(p -> p.toFile().delete());
    } catch (IOException ignored) {
      // a temporary directory; nothing depends on it any more
    }
  }

  private void stopProcesses() {
    // The API server first, so that it does not log etcd going away.
    for (int i = processes.size() - 1; i >= 0; i--) {
      Process p = processes.get(i);
      p.destroy();
      try {
        if (!p.waitFor(10, TimeUnit.SECONDS)) p.destroyForcibly().waitFor();
      } catch (InterruptedException e) {
        p.destroyForcibly();
        Thread.currentThread().interrupt();
      }
    }
  }

  private static int freePort() throws IOException {
    try (ServerSocket s = new ServerSocket(0, 1, InetAddress.getLoopbackAddress())) {
      return s.getLocalPort();
    }
  }

  private static String randomToken() {
    byte[] b = new byte[24];
    new SecureRandom().nextBytes(b);
    return HexFormat.of().formatHex(b);
  }

  private static void sleep(long millis) {
    try {
      Thread.sleep(millis);
    } catch (InterruptedException e) {
      Thread.currentThread().interrupt();
    }
  }
}
