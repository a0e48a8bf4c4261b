package io.xenvbd.tls;

import java.net.Socket;
import java.security.Principal;
import java.security.PrivateKey;
import java.security.cert.X509Certificate;
import java.util.Locale;
import javax.net.ssl.SSLEngine;
import javax.net.ssl.X509ExtendedKeyManager;

/**
 * The server side of a handshake with whatever pair is current: the alias it picks names the pair's
 * version, so that the certificate and the key of one handshake always come from the same pair,
 * even when the files change in the middle of it.
 */
final class RotatingKeyManager extends X509ExtendedKeyManager {
  private static final String PREFIX = "xenvbd-";
  private final Rotating<Tls.ServerKeys> keys;

  RotatingKeyManager(Rotating<Tls.ServerKeys> keys) {
    this.keys = keys;
  }

  @Override
  public String chooseServerAlias(String keyType, Principal[] issuers, Socket socket) {
    return choose(keyType);
  }

  @Override
  public String chooseEngineServerAlias(String keyType, Principal[] issuers, SSLEngine engine) {
    return choose(keyType);
  }

  /**
   * The current pair's alias when its key suits {@code keyType} (RSA, EC, RSASSA-PSS, EC_EC...).
   */
  private String choose(String keyType) {
    Rotating.Version<Tls.ServerKeys> v = keys.version();
    String algorithm = v.value().key().getAlgorithm().toUpperCase(Locale.ROOT);
    String wanted = keyType == null ? "" : keyType.toUpperCase(Locale.ROOT);
    int underscore = wanted.indexOf('_');
    if (underscore > 0) wanted = wanted.substring(0, underscore);
    boolean fits =
        wanted.equals(algorithm)
            || wanted.equals("RSASSA-PSS") && algorithm.equals("RSA")
            || wanted.equals("EDDSA") && algorithm.startsWith("ED");
    return fits ? PREFIX + v.number() : null;
  }

  private Tls.ServerKeys of(String alias) {
    if (alias == null || !alias.startsWith(PREFIX)) return null;
    try {
      return keys.valueOf(Long.parseLong(alias.substring(PREFIX.length())));
    } catch (NumberFormatException e) {
      return null;
    }
  }

  @Override
  public X509Certificate[] getCertificateChain(String alias) {
    Tls.ServerKeys k = of(alias);
    return k == null ? null : k.chain().toArray(new X509Certificate[0]);
  }

  @Override
  public PrivateKey getPrivateKey(String alias) {
    Tls.ServerKeys k = of(alias);
    return k == null ? null : k.key();
  }

  @Override
  public String[] getServerAliases(String keyType, Principal[] issuers) {
    String alias = choose(keyType);
    return alias == null ? null : new String[] {alias};
  }

  @Override
  public String[] getClientAliases(String keyType, Principal[] issuers) {
    return null; // a server only
  }

  @Override
  public String chooseClientAlias(String[] keyType, Principal[] issuers, Socket socket) {
    return null;
  }
}
