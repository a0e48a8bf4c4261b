package io.xenvbd.tls;

import io.xenvbd.ca.CertificateAuthority;
import io.xenvbd.client.AgentTrust;
import java.io.IOException;
import java.io.InputStream;
import java.io.Reader;
import java.nio.charset.StandardCharsets;
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
import org.bouncycastle.asn1.pkcs.PrivateKeyInfo;
import org.bouncycastle.openssl.PEMKeyPair;
import org.bouncycastle.openssl.PEMParser;
import org.bouncycastle.openssl.jcajce.JcaPEMKeyConverter;

/**
 * PEM files to {@link SSLContext}s for the agent (server) and the operator (client), and a
 * one-certificate CA for tests and local mode. Production certificates come from the Helm chart.
 */
public final class Tls {
  private Tls() {}

  /** What {@link #generate} wrote: the CA certificate clients trust, and the server's certificate and key. */
  public record Generated(Path caCert, Path cert, Path key) {}

  /** Server context from a PEM certificate chain (leaf first) and its PEM private key (PKCS#8, PKCS#1 or SEC1). */
  public static SSLContext serverContext(Path certPem, Path keyPem) {
    try {
      List<X509Certificate> chain = readCertificates(certPem);
      PrivateKey key = readPrivateKey(keyPem);
      KeyStore store = KeyStore.getInstance("PKCS12");
      store.load(null, null);
      char[] password = new char[0];
      store.setKeyEntry("agent", key, password, chain.toArray(new Certificate[0]));
      KeyManagerFactory kmf = KeyManagerFactory.getInstance(KeyManagerFactory.getDefaultAlgorithm());
      kmf.init(store, password);
      SSLContext context = SSLContext.getInstance("TLS");
      context.init(kmf.getKeyManagers(), null, new SecureRandom());
      return context;
    } catch (GeneralSecurityException | IOException e) {
      throw new IllegalArgumentException("cannot use TLS certificate " + certPem + " with key " + keyPem
          + ": " + e.getMessage() + " (give a PEM certificate and its matching PEM private key)", e);
    }
  }

  /**
   * Client context that trusts any server whose certificate chains to the CA certificates in
   * {@code caPem}, whatever names it carries: {@link AgentTrust.Identity#CA}, for one certificate
   * shared by every agent. The operator's per-node check is {@link AgentTrust}.
   */
  public static SSLContext clientContext(Path caPem) {
    return AgentTrust.fromCa(caPem, AgentTrust.Identity.CA).anyAgent();
  }

  /** The JDK's PKIX chain check against exactly the CA certificates in {@code caPem}. */
  public static X509TrustManager caTrust(Path caPem) {
    try {
      KeyStore trust = KeyStore.getInstance("PKCS12");
      trust.load(null, null);
      int i = 0;
      for (X509Certificate ca : readCertificates(caPem)) trust.setCertificateEntry("ca" + i++, ca);
      TrustManagerFactory tmf = TrustManagerFactory.getInstance(TrustManagerFactory.getDefaultAlgorithm());
      tmf.init(trust);
      for (TrustManager tm : tmf.getTrustManagers()) {
        if (tm instanceof X509TrustManager x) return x;
      }
      throw new GeneralSecurityException("the JDK offers no X.509 trust manager");
    } catch (GeneralSecurityException | IOException e) {
      throw new IllegalArgumentException("cannot use CA file " + caPem + ": " + e.getMessage()
          + " (give the PEM certificate of the CA that signed the agents' certificates)", e);
    }
  }

  /**
   * Writes a fresh CA ({@code ca.crt}) and a server certificate and key ({@code tls.crt},
   * {@code tls.key}, mode 0600) signed by it, valid for {@code hostnames} (DNS names or IP
   * literals) for one year. The CA key is not kept: nothing else can be signed with it (use
   * {@link CertificateAuthority} for one certificate per agent).
   */
  public static Generated generate(Path dir, List<String> hostnames) {
    if (hostnames.isEmpty()) throw new IllegalArgumentException("give at least one hostname or IP for the certificate");
    return CertificateAuthority.create(dir).issue(dir, hostnames);
  }

  static List<X509Certificate> readCertificates(Path pem) throws IOException, GeneralSecurityException {
    CertificateFactory factory = CertificateFactory.getInstance("X.509");
    List<X509Certificate> certs = new ArrayList<>();
    try (InputStream in = Files.newInputStream(pem)) {
      for (Certificate c : factory.generateCertificates(in)) certs.add((X509Certificate) c);
    }
    if (certs.isEmpty()) throw new GeneralSecurityException("no certificate found in " + pem);
    return certs;
  }

  static PrivateKey readPrivateKey(Path pem) throws IOException, GeneralSecurityException {
    try (Reader reader = Files.newBufferedReader(pem, StandardCharsets.US_ASCII); PEMParser parser = new PEMParser(reader)) {
      JcaPEMKeyConverter converter = new JcaPEMKeyConverter();
      for (Object o = parser.readObject(); o != null; o = parser.readObject()) {
        if (o instanceof PrivateKeyInfo info) return converter.getPrivateKey(info);
        if (o instanceof PEMKeyPair pair) return converter.getKeyPair(pair).getPrivate();
      }
    }
    throw new GeneralSecurityException("no unencrypted private key found in " + pem);
  }
}
