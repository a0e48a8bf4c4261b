package io.xenvbd.tls;

import java.io.IOException;
import java.io.InputStream;
import java.nio.file.Files;
import java.nio.file.Path;
import java.security.GeneralSecurityException;
import java.security.KeyStore;
import java.security.PrivateKey;
import java.security.SecureRandom;
import java.security.cert.Certificate;
import java.security.cert.CertificateFactory;
import java.security.cert.X509Certificate;
import java.util.ArrayList;
import java.util.List;
import javax.net.ssl.KeyManagerFactory;
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

  /**
   * Server context from a PEM certificate chain (leaf first) and its PEM private key (PKCS#8,
   * PKCS#1 or SEC1).
   */
  public static SSLContext serverContext(Path certPem, Path keyPem) {
    try {
      List<X509Certificate> chain = readCertificates(certPem);
      PrivateKey key = PemKeys.read(keyPem);
      KeyStore store = KeyStore.getInstance("PKCS12");
      store.load(null, null);
      char[] password = new char[0];
      store.setKeyEntry("agent", key, password, chain.toArray(new Certificate[0]));
      KeyManagerFactory kmf =
          KeyManagerFactory.getInstance(KeyManagerFactory.getDefaultAlgorithm());
      kmf.init(store, password);
      SSLContext context = SSLContext.getInstance("TLS");
      context.init(kmf.getKeyManagers(), null, new SecureRandom());
      return context;
    } catch (GeneralSecurityException | IOException e) {
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
    try {
      KeyStore trust = KeyStore.getInstance("PKCS12");
      trust.load(null, null);
      int i = 0;
      for (X509Certificate ca : readCertificates(caPem)) trust.setCertificateEntry("ca" + i++, ca);
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

  static List<X509Certificate> readCertificates(Path pem)
      throws IOException, GeneralSecurityException {
    CertificateFactory factory = CertificateFactory.getInstance("X.509");
    List<X509Certificate> certs = new ArrayList<>();
    try (InputStream in = Files.newInputStream(pem)) {
      for (Certificate c : factory.generateCertificates(in)) certs.add((X509Certificate) c);
    }
    if (certs.isEmpty()) throw new GeneralSecurityException("no certificate found in " + pem);
    return certs;
  }
}
