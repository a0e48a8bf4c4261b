package io.xenvbd.client;

import io.xenvbd.tls.Rotating;
import io.xenvbd.tls.ServerTrust;
import io.xenvbd.tls.Tls;
import java.net.InetAddress;
import java.net.UnknownHostException;
import java.nio.file.Path;
import java.security.cert.CertificateException;
import java.security.cert.CertificateParsingException;
import java.security.cert.X509Certificate;
import java.time.Duration;
import java.util.ArrayList;
import java.util.Collection;
import java.util.List;
import java.util.Locale;
import java.util.regex.Pattern;
import javax.net.ssl.SSLContext;
import javax.net.ssl.X509TrustManager;

/**
 * How the operator decides that the server it reached for node N is N's agent, before it sends
 * anything (the check runs inside the TLS handshake, so a refused server never sees a request or
 * the bearer token).
 *
 * <p>{@link Identity#NODE}, the rule: the agent's certificate chains to the agents' CA and, among
 * its subject alternative names, has <b>a DNS name equal to the node's name</b> and <b>a name equal
 * to the host of the endpoint</b> its Dom0Node advertises (an IP address SAN for an IP host, a DNS
 * SAN for a DNS host). Comparison is exact (ASCII case-insensitive for DNS names); wildcards are
 * not honoured. So a certificate issued to another node is refused even though the CA signed it.
 *
 * <p>{@link Identity#CA}: any certificate the CA signed, whatever it names: for one certificate
 * shared by every agent (the chart's default), where every agent can pose as every other.
 */
public final class AgentTrust {
  /** Which certificates prove a node's agent; see the class comment. */
  public enum Identity {
    NODE,
    CA;

    /** {@code node} or {@code ca}, as the operator's {@code --agent-identity} takes them. */
    public static Identity parse(String value) {
      String v = value == null ? "" : value.strip().toLowerCase(Locale.ROOT);
      return switch (v) {
        case "node" -> NODE;
        case "ca" -> CA;
        default ->
            throw new IllegalArgumentException(
                "--agent-identity must be node (each agent's certificate"
                    + " names its node and endpoint host) or ca (one certificate shared by all agents), not '"
                    + value
                    + "'");
      };
    }
  }

  private static final Pattern IPV4 = Pattern.compile("^[0-9]{1,3}(\\.[0-9]{1,3}){3}$");

  private final Rotating<X509TrustManager> cas;
  private final X509TrustManager chain;
  private final Identity identity;
  private volatile AnyAgent anyAgent;

  private record AnyAgent(long epoch, SSLContext context) {}

  private AgentTrust(Rotating<X509TrustManager> cas, Identity identity) {
    this.cas = cas;
    this.chain = Tls.watchCaTrust(cas);
    this.identity = identity;
  }

  /**
   * Trust rooted in the PEM CA certificates in {@code caPem}, read again when the file changes; the
   * replaced CAs stay trusted for {@link Rotating#DEFAULT_OVERLAP}.
   */
  public static AgentTrust fromCa(Path caPem, Identity identity) {
    return fromCa(caPem, identity, Rotating.DEFAULT_OVERLAP);
  }

  /** The same, the replaced CAs trusted for {@code overlap} after a change. */
  public static AgentTrust fromCa(Path caPem, Identity identity, Duration overlap) {
    return new AgentTrust(Tls.watchCa(caPem, overlap), identity);
  }

  public Identity identity() {
    return identity;
  }

  /** Why the CA file in place is not in use (the trusted CAs stay until it is fixed), or null. */
  public String error() {
    return cas.error();
  }

  /**
   * Changes whenever the trusted CAs do (a new CA file, the end of an overlap): connections and TLS
   * sessions made before are not reused after it.
   */
  long epoch() {
    return cas.epoch();
  }

  /** A context that checks the CA signature only ({@link Identity#CA}), new for each epoch. */
  SSLContext anyAgent() {
    long epoch = cas.epoch();
    AnyAgent a = anyAgent;
    if (a == null || a.epoch() != epoch) {
      a = new AnyAgent(epoch, ServerTrust.chainOnly(chain).context());
      anyAgent = a;
    }
    return a.context();
  }

  /**
   * The context to reach node {@code node}'s agent at {@code host}: per node unless identity is CA.
   */
  SSLContext contextFor(String node, String host) {
    return identity == Identity.CA
        ? anyAgent()
        : new ProvesNode(chain, node, unbracket(host)).context();
  }

  /**
   * The refusal message if {@code failure} (or a cause) is this class refusing a certificate, else
   * null.
   */
  static String identityRefusal(Throwable failure) {
    for (Throwable t = failure; t != null; t = t.getCause()) {
      if (t instanceof IdentityMismatch m) return m.getMessage();
      if (t.getCause() == t) break;
    }
    return null;
  }

  /**
   * What {@code leaf} lacks to prove {@code node} at {@code host}, as a sentence; null when it
   * proves it.
   */
  static String problem(X509Certificate leaf, String node, String host) {
    List<String> dns = new ArrayList<>();
    List<String> ips = new ArrayList<>();
    try {
      Collection<List<?>> sans = leaf.getSubjectAlternativeNames();
      for (List<?> san : sans == null ? List.<List<?>>of() : sans) {
        if (Integer.valueOf(2).equals(san.get(0))) dns.add(String.valueOf(san.get(1)));
        if (Integer.valueOf(7).equals(san.get(0))) ips.add(String.valueOf(san.get(1)));
      }
    } catch (CertificateParsingException e) {
      return "its subject alternative names cannot be read (" + e.getMessage() + ")";
    }
    boolean namesNode = dns.stream().anyMatch(d -> d.equalsIgnoreCase(node));
    boolean ipHost = isIpLiteral(host);
    boolean namesHost =
        ipHost
            ? ips.stream().anyMatch(ip -> sameAddress(ip, host))
            : dns.stream().anyMatch(d -> d.equalsIgnoreCase(host));
    if (namesNode && namesHost) return null;
    List<String> missing = new ArrayList<>();
    if (!namesNode) missing.add("the DNS name " + node);
    if (!namesHost)
      missing.add((ipHost ? "the IP address " : "the DNS name ") + host + " of its endpoint");
    List<String> has = new ArrayList<>();
    dns.forEach(d -> has.add("DNS:" + d));
    ips.forEach(i -> has.add("IP:" + i));
    return "the agent at "
        + host
        + " presented a certificate for "
        + (has.isEmpty() ? "no subject alternative name" : String.join(", ", has))
        + ", which lacks "
        + String.join(" and ", missing)
        + ", so it is not node "
        + node
        + "'s agent: give node "
        + node
        + "'s agent a certificate from the agents' CA that names "
        + node
        + " and "
        + host
        + " (one certificate shared by every agent needs --agent-identity=ca)";
  }

  private static boolean isIpLiteral(String host) {
    return host.indexOf(':') >= 0 || IPV4.matcher(host).matches();
  }

  /** Both are IP literals here, so InetAddress parses them without a DNS lookup. */
  private static boolean sameAddress(String a, String b) {
    try {
      return isIpLiteral(a) && InetAddress.getByName(a).equals(InetAddress.getByName(b));
    } catch (UnknownHostException e) {
      return false;
    }
  }

  private static String unbracket(String host) {
    return host != null && host.startsWith("[") && host.endsWith("]")
        ? host.substring(1, host.length() - 1)
        : host;
  }

  /** A certificate the CA signed that belongs to another node (or names another host). */
  static final class IdentityMismatch extends CertificateException {
    IdentityMismatch(String message) {
      super(message);
    }
  }

  /** {@link Identity#NODE}: signed by the agents' CA and naming this node and this host. */
  private static final class ProvesNode extends ServerTrust {
    private final String node;
    private final String host;

    ProvesNode(X509TrustManager chain, String node, String host) {
      super(chain);
      this.node = node;
      this.host = host;
    }

    @Override
    protected void check(X509Certificate[] certs, String authType) throws CertificateException {
      chain.checkServerTrusted(certs, authType);
      String problem = problem(certs[0], node, host);
      if (problem != null) throw new IdentityMismatch(problem);
    }
  }
}
