package io.xenvbd.tls;

import java.io.ByteArrayInputStream;
import java.io.IOException;
import java.io.InputStream;
import java.nio.charset.StandardCharsets;
import java.nio.file.Path;
import java.security.GeneralSecurityException;
import java.security.KeyStore;
import java.security.PrivateKey;
import java.security.SecureRandom;
import java.security.Signature;
import java.security.cert.Certificate;
import java.security.cert.CertificateFactory;
import java.security.cert.X509Certificate;
import java.time.Clock;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import javax.net.ssl.KeyManager;
import javax.net.ssl.SSLContext;
import javax.net.ssl.TrustManager;
import javax.net.ssl.TrustManagerFactory;
import javax.net.ssl.X509TrustManager;

/**
 * PEM files to {@link SSLContext}s for the agent (server) and the operator (client). Certificates
 * come from the Helm chart or cert-manager; local mode and tests make theirs with io.xenvbd.ca.
 */
public final class Tls {
  private Tls() {}

  /** Largest certificate, key or CA file read (a chain of a few certificates fits many times). */
  public static final int MAX_PEM_BYTES = 256 * 1024;

  /** A server's certificate chain (leaf first) and its private key. */
  public record ServerKeys(List<X509Certificate> chain, PrivateKey key) {}

  /**
   * Server context from a PEM certificate chain (leaf first) and its PEM private key (PKCS#8,
   * PKCS#1 or SEC1), read once.
   */
  public static SSLContext serverContext(Path certPem, Path keyPem) {
    return serverContext(Rotating.fixed(readServerKeys(certPem, keyPem)));
  }

  /**
   * The same read from {@code certPem} and {@code keyPem} again when they change (see {@link
   * Rotating}): each handshake presents the current pair.
   */
  public static Rotating<ServerKeys> watchServerKeys(Path certPem, Path keyPem, Duration overlap) {
    return Rotating.of(
        "TLS certificate and key",
        List.of(certPem, keyPem),
        MAX_PEM_BYTES,
        contents -> serverKeys(contents.get(0), certPem, contents.get(1), keyPem),
        overlap,
        Rotating.DEFAULT_POLL,
        Clock.systemUTC());
  }

  /** A server context whose every handshake presents {@code keys}' current pair. */
  public static SSLContext serverContext(Rotating<ServerKeys> keys) {
    try {
      SSLContext context = SSLContext.getInstance("TLS");
      context.init(new KeyManager[] {new RotatingKeyManager(keys)}, null, new SecureRandom());
      return context;
    } catch (GeneralSecurityException e) {
      throw new IllegalStateException("the JDK cannot make a TLS context: " + e.getMessage(), e);
    }
  }

  private static ServerKeys readServerKeys(Path certPem, Path keyPem) {
    try {
      return serverKeys(
          ConfinedFile.read(certPem, MAX_PEM_BYTES),
          certPem,
          ConfinedFile.read(keyPem, MAX_PEM_BYTES),
          keyPem);
    } catch (IOException e) {
      throw new IllegalArgumentException(
          "cannot use TLS certificate " + certPem + " with key " + keyPem + ": " + e.getMessage(),
          e);
    }
  }

  /** The pair in these contents, checked to belong together. */
  static ServerKeys serverKeys(byte[] cert, Path certPem, byte[] key, Path keyPem) {
    try {
      List<X509Certificate> chain = readCertificates(cert, certPem);
      PrivateKey privateKey = PemKeys.read(key, keyPem);
      if (!matches(privateKey, chain.get(0)))
        throw new GeneralSecurityException(
            "the key is not the private key of the certificate's public key");
      return new ServerKeys(List.copyOf(chain), privateKey);
    } catch (GeneralSecurityException e) {
      throw new IllegalArgumentException(
          "cannot use TLS certificate "
              + certPem
              + " with key "
              + keyPem
              + ": "
              + e.getMessage()
              + " (give a PEM certificate and its matching PEM private key)",
          e);
    }
  }

  /** Whether {@code key} signs what {@code leaf}'s public key verifies. */
  private static boolean matches(PrivateKey key, X509Certificate leaf)
      throws GeneralSecurityException {
    String algorithm =
        switch (key.getAlgorithm()) {
          case "RSA" -> "SHA256withRSA";
          case "EC" -> "SHA256withECDSA";
          case "Ed25519", "Ed448", "EdDSA" -> key.getAlgorithm();
          case "DSA" -> "SHA256withDSA";
          default -> null;
        };
    if (algorithm == null) return true; // no test for it; the handshake will tell
    byte[] probe = "xenvbd key check".getBytes(StandardCharsets.US_ASCII);
    Signature sign = Signature.getInstance(algorithm);
    sign.initSign(key);
    sign.update(probe);
    byte[] signature = sign.sign();
    Signature verify = Signature.getInstance(algorithm);
    try {
      verify.initVerify(leaf.getPublicKey());
      verify.update(probe);
      return verify.verify(signature);
    } catch (GeneralSecurityException e) {
      return false; // a key of another algorithm than the certificate's
    }
  }

  /**
   * Client context that trusts any server whose certificate chains to the CA certificates in {@code
   * caPem}, whatever names it carries: what the operator's {@code --agent-identity=ca} does for one
   * certificate shared by every agent, and what local mode's clients of its own servers use.
   */
  public static SSLContext clientContext(Path caPem) {
    return ServerTrust.chainOnly(caTrust(caPem)).context();
  }

  /** The JDK's PKIX chain check against exactly the CA certificates in {@code caPem}. */
  public static X509TrustManager caTrust(Path caPem) {
    byte[] content;
    try {
      content = ConfinedFile.read(caPem, MAX_PEM_BYTES);
    } catch (IOException e) {
      throw new IllegalArgumentException("cannot use CA file " + caPem + ": " + e.getMessage(), e);
    }
    return caTrust(content, caPem);
  }

  /**
   * The chain check against the CA certificates of {@code caPem}, read again when it changes:
   * during an overlap a chain to the replaced CAs passes too (see {@link Rotating}).
   */
  public static X509TrustManager watchCaTrust(Rotating<X509TrustManager> cas) {
    return new RotatingTrust(cas);
  }

  /** {@code caPem} as a reloading source of CA trust. */
  public static Rotating<X509TrustManager> watchCa(Path caPem, Duration overlap) {
    return Rotating.of(
        "CA certificate",
        List.of(caPem),
        MAX_PEM_BYTES,
        contents -> caTrust(contents.get(0), caPem),
        overlap,
        Rotating.DEFAULT_POLL,
        Clock.systemUTC());
  }

  static X509TrustManager caTrust(byte[] content, Path caPem) {
    try {
      KeyStore trust = KeyStore.getInstance("PKCS12");
      trust.load(null, null);
      int i = 0;
      for (X509Certificate ca : readCertificates(content, caPem))
        trust.setCertificateEntry("ca" + i++, ca);
      TrustManagerFactory tmf =
          TrustManagerFactory.getInstance(TrustManagerFactory.getDefaultAlgorithm());
      tmf.init(trust);
      for (TrustManager tm : tmf.getTrustManagers()) {
        if (tm instanceof X509TrustManager x) return x;
      }
      throw new GeneralSecurityException("the JDK offers no X.509 trust manager");
    } catch (GeneralSecurityException | IOException e) {
      throw new IllegalArgumentException(
          "cannot use CA file "
              + caPem
              + ": "
              + e.getMessage()
              + " (give the PEM certificate of the CA that signed the agents' certificates)",
          e);
    }
  }

  static List<X509Certificate> readCertificates(byte[] content, Path pem)
      throws GeneralSecurityException {
    CertificateFactory factory = CertificateFactory.getInstance("X.509");
    List<X509Certificate> certs = new ArrayList<>();
    try (InputStream in = new ByteArrayInputStream(content)) {
      for (Certificate c : factory.generateCertificates(in)) certs.add((X509Certificate) c);
    } catch (IOException e) {
      throw new GeneralSecurityException(e.getMessage(), e);
    }
    if (certs.isEmpty()) throw new GeneralSecurityException("no certificate found in " + pem);
    return certs;
  }
}
