package io.xenvbd.local;

import io.xenvbd.agent.AgentConfig;
import io.xenvbd.ca.CertificateAuthority;
import io.xenvbd.client.HttpAgentClient;
import io.xenvbd.protocol.AgentClientFactory;
import io.xenvbd.tls.Tls;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import javax.net.ssl.SSLContext;

/**
 * How the operator and the agents on this machine reach and trust each other, as in a cluster: one
 * bearer token that every agent accepts and the operator sends, and one CA whose certificate for
 * 127.0.0.1 and localhost every agent serves HTTPS with. Local mode wires its operator and agent
 * with it, and so do the tests that compose the product; what a test adds (agents in their own JVM,
 * request counters, one identity per node) it adds around this, not instead of it.
 */
public final class Wiring {
  /** The names the agents' certificate is valid for: where an agent on this machine listens. */
  static final List<String> HOSTS = List.of("127.0.0.1", "localhost");

  private final Path tokenFile;
  private final String token;
  private final CertificateAuthority.Issued tls;
  private final SSLContext clientContext;

  private Wiring(Path tokenFile, String token, CertificateAuthority.Issued tls) {
    this.tokenFile = tokenFile;
    this.token = token;
    this.tls = tls;
    this.clientContext = Tls.clientContext(tls.caCert());
  }

  /**
   * The credentials kept in {@code dir}: the token of {@code dir/agent-token} (made there,
   * owner-only, if it is missing or cannot be trusted, and kept for the next run) and a fresh CA
   * with the agents' certificate and key in {@code dir/tls} ({@code ca.crt}, {@code tls.crt},
   * {@code tls.key}).
   */
  public static Wiring in(Path dir) throws IOException {
    Files.createDirectories(dir);
    Path tokenFile = dir.resolve("agent-token");
    String token = StateDir.token(tokenFile);
    return new Wiring(tokenFile, token, CertificateAuthority.generate(dir.resolve("tls"), HOSTS));
  }

  /** The bearer token the agents accept (never log it). */
  public String token() {
    return token;
  }

  /**
   * The file that holds {@link #token()}: what an agent in its own process reads ({@code
   * --token-file}).
   */
  public Path tokenFile() {
    return tokenFile;
  }

  /** The CA certificate and the agents' certificate and key. */
  public CertificateAuthority.Issued tls() {
    return tls;
  }

  /**
   * A client TLS context that trusts the agents' CA: what the operator, and a test calling an
   * agent, use.
   */
  public SSLContext clientContext() {
    return clientContext;
  }

  /**
   * An agent for {@code node} on this machine serving {@code images}, with this token and
   * certificate; set what differs by name (heartbeat, workers, URLs...).
   */
  public AgentConfig.Builder agent(String node, Path images, List<Path> allowedSources) {
    return agent(node, images, allowedSources, token, tls);
  }

  /**
   * An agent for {@code node} on this machine: HTTPS with {@code tls}'s certificate on 127.0.0.1
   * and any free port, accepting {@code token}, the documented defaults for everything else. For a
   * node with an identity of its own (its own certificate and token); {@link #agent(String, Path,
   * List)} otherwise.
   */
  public static AgentConfig.Builder agent(
      String node,
      Path images,
      List<Path> allowedSources,
      String token,
      CertificateAuthority.Issued tls) {
    return AgentConfig.localPlain(node, images, allowedSources, token).tls(tls.cert(), tls.key());
  }

  /**
   * The operator's way to every agent: the production HTTPS client with this token, trusting this
   * CA.
   */
  public AgentClientFactory agentClients() {
    return HttpAgentClient.factory(token, clientContext);
  }

  /**
   * The same for an operator in a JVM of its own, given the token and the CA certificate's file.
   */
  public static AgentClientFactory agentClients(String token, Path caCert) {
    return HttpAgentClient.factory(token, Tls.clientContext(caCert));
  }
}
