package io.xenvbd.protocol;

import java.io.IOException;
import java.io.InputStream;
import java.io.Reader;
import java.io.StringWriter;
import java.io.UncheckedIOException;
import java.math.BigInteger;
import java.net.InetAddress;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.attribute.PosixFilePermissions;
import java.security.GeneralSecurityException;
import java.security.KeyPair;
import java.security.KeyPairGenerator;
import java.security.KeyStore;
import java.security.PrivateKey;
import java.security.SecureRandom;
import java.security.cert.Certificate;
import java.security.cert.CertificateException;
import java.security.cert.CertificateFactory;
import java.security.cert.X509Certificate;
import java.security.spec.ECGenParameterSpec;
import java.time.Duration;
import java.time.Instant;
import java.util.ArrayList;
import java.util.Date;
import java.util.List;
import java.util.regex.Pattern;
import javax.net.ssl.KeyManagerFactory;
import javax.net.ssl.SSLContext;
import javax.net.ssl.SSLEngine;
import javax.net.ssl.TrustManager;
import javax.net.ssl.TrustManagerFactory;
import javax.net.ssl.X509ExtendedTrustManager;
import javax.net.ssl.X509TrustManager;
import org.bouncycastle.asn1.pkcs.PrivateKeyInfo;
import org.bouncycastle.asn1.x500.X500Name;
import org.bouncycastle.asn1.x509.BasicConstraints;
import org.bouncycastle.asn1.x509.ExtendedKeyUsage;
import org.bouncycastle.asn1.x509.Extension;
import org.bouncycastle.asn1.x509.GeneralName;
import org.bouncycastle.asn1.x509.GeneralNames;
import org.bouncycastle.asn1.x509.KeyPurposeId;
import org.bouncycastle.asn1.x509.KeyUsage;
import org.bouncycastle.cert.X509v3CertificateBuilder;
import org.bouncycastle.cert.jcajce.JcaX509CertificateConverter;
import org.bouncycastle.cert.jcajce.JcaX509ExtensionUtils;
import org.bouncycastle.cert.jcajce.JcaX509v3CertificateBuilder;
import org.bouncycastle.openssl.PEMKeyPair;
import org.bouncycastle.openssl.PEMParser;
import org.bouncycastle.openssl.jcajce.JcaPEMKeyConverter;
import org.bouncycastle.openssl.jcajce.JcaPEMWriter;
import org.bouncycastle.openssl.jcajce.JcaPKCS8Generator;
import org.bouncycastle.operator.ContentSigner;
import org.bouncycastle.operator.jcajce.JcaContentSignerBuilder;

/**
 * PEM files to {@link SSLContext}s for the agent (server) and the operator (client), and a small CA
 * generator for tests and local mode. Production certificates come from the Helm chart's Secret.
 */
public final class Tls {
  private Tls() {}

  /** What {@link #generate} wrote: the CA certificate clients trust, and the server's certificate and key. */
  public record Generated(Path caCert, Path cert, Path key) {}

  private static final Pattern IP_LITERAL = Pattern.compile("^[0-9.]+$|^[0-9a-fA-F:]*:[0-9a-fA-F:.]*$");

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

  /** Client context that trusts exactly the CA certificates in {@code caPem}. */
  public static SSLContext clientContext(Path caPem) {
    try {
      KeyStore trust = KeyStore.getInstance("PKCS12");
      trust.load(null, null);
      int i = 0;
      for (X509Certificate ca : readCertificates(caPem)) trust.setCertificateEntry("ca" + i++, ca);
      TrustManagerFactory tmf = TrustManagerFactory.getInstance(TrustManagerFactory.getDefaultAlgorithm());
      tmf.init(trust);
      X509TrustManager chain = null;
      for (TrustManager tm : tmf.getTrustManagers()) {
        if (tm instanceof X509TrustManager x) chain = x;
      }
      SSLContext context = SSLContext.getInstance("TLS");
      context.init(null, new TrustManager[] {new SignedByCa(chain)}, new SecureRandom());
      return context;
    } catch (GeneralSecurityException | IOException e) {
      throw new IllegalArgumentException("cannot use CA file " + caPem + ": " + e.getMessage()
          + " (give the PEM certificate of the CA that signed the agents' certificates)", e);
    }
  }

  /**
   * Trusts a server whose certificate chains to the agents' CA, whatever host name it names. The
   * operator reaches agents by node IP, which nobody knows when the chart issues the agents'
   * certificate, and that CA signs nothing but xenvbd agents. (Every agent holds the shared
   * bearer token anyway, so one agent posing as another gains nothing it did not have.)
   */
  static final class SignedByCa extends X509ExtendedTrustManager {
    private final X509TrustManager chain;

    SignedByCa(X509TrustManager chain) {
      this.chain = chain;
    }

    @Override
    public void checkServerTrusted(X509Certificate[] certs, String authType) throws CertificateException {
      chain.checkServerTrusted(certs, authType);
    }

    @Override
    public void checkServerTrusted(X509Certificate[] certs, String authType, java.net.Socket socket)
        throws CertificateException {
      chain.checkServerTrusted(certs, authType);
    }

    @Override
    public void checkServerTrusted(X509Certificate[] certs, String authType, SSLEngine engine)
        throws CertificateException {
      chain.checkServerTrusted(certs, authType);
    }

    @Override
    public void checkClientTrusted(X509Certificate[] certs, String authType) throws CertificateException {
      throw new CertificateException("this trust manager only checks agent servers");
    }

    @Override
    public void checkClientTrusted(X509Certificate[] certs, String authType, java.net.Socket socket)
        throws CertificateException {
      checkClientTrusted(certs, authType);
    }

    @Override
    public void checkClientTrusted(X509Certificate[] certs, String authType, SSLEngine engine)
        throws CertificateException {
      checkClientTrusted(certs, authType);
    }

    @Override
    public X509Certificate[] getAcceptedIssuers() {
      return chain.getAcceptedIssuers();
    }
  }

  /**
   * Writes a fresh CA ({@code ca.crt}) and a server certificate and key ({@code tls.crt},
   * {@code tls.key}, mode 0600) signed by it, valid for {@code hostnames} (DNS names or IP
   * literals) for one year. The CA key is not kept: nothing else can be signed with it.
   */
  public static Generated generate(Path dir, List<String> hostnames) {
    if (hostnames.isEmpty()) throw new IllegalArgumentException("give at least one hostname or IP for the certificate");
    try {
      Files.createDirectories(dir);
      KeyPair caKeys = newKeyPair();
      KeyPair serverKeys = newKeyPair();
      Instant now = Instant.now();
      Date from = Date.from(now.minus(Duration.ofMinutes(5)));
      Date to = Date.from(now.plus(Duration.ofDays(365)));
      X500Name caName = new X500Name("CN=xenvbd agent CA");
      JcaX509ExtensionUtils ext = new JcaX509ExtensionUtils();

      X509v3CertificateBuilder ca = new JcaX509v3CertificateBuilder(caName, serial(), from, to, caName, caKeys.getPublic())
          .addExtension(Extension.basicConstraints, true, new BasicConstraints(0))
          .addExtension(Extension.keyUsage, true, new KeyUsage(KeyUsage.keyCertSign | KeyUsage.cRLSign))
          .addExtension(Extension.subjectKeyIdentifier, false, ext.createSubjectKeyIdentifier(caKeys.getPublic()));
      X509Certificate caCert = sign(ca, caKeys.getPrivate());

      List<GeneralName> names = new ArrayList<>();
      for (String host : hostnames) {
        names.add(IP_LITERAL.matcher(host).matches()
            ? new GeneralName(GeneralName.iPAddress, InetAddress.getByName(host).getHostAddress())
            : new GeneralName(GeneralName.dNSName, host));
      }
      X509v3CertificateBuilder leaf = new JcaX509v3CertificateBuilder(caCert, serial(), from, to,
          new X500Name("CN=" + hostnames.get(0)), serverKeys.getPublic())
          .addExtension(Extension.basicConstraints, true, new BasicConstraints(false))
          .addExtension(Extension.keyUsage, true, new KeyUsage(KeyUsage.digitalSignature | KeyUsage.keyEncipherment))
          .addExtension(Extension.extendedKeyUsage, false, new ExtendedKeyUsage(KeyPurposeId.id_kp_serverAuth))
          .addExtension(Extension.subjectAlternativeName, false, new GeneralNames(names.toArray(new GeneralName[0])))
          .addExtension(Extension.authorityKeyIdentifier, false, ext.createAuthorityKeyIdentifier(caCert));
      X509Certificate serverCert = sign(leaf, caKeys.getPrivate());

      Generated out = new Generated(dir.resolve("ca.crt"), dir.resolve("tls.crt"), dir.resolve("tls.key"));
      Files.writeString(out.caCert(), pem(caCert));
      Files.writeString(out.cert(), pem(serverCert));
      Files.deleteIfExists(out.key());
      Files.createFile(out.key(), PosixFilePermissions.asFileAttribute(PosixFilePermissions.fromString("rw-------")));
      Files.writeString(out.key(), pem(new JcaPKCS8Generator(serverKeys.getPrivate(), null))); // PKCS#8, what most tools read
      return out;
    } catch (IOException e) {
      throw new UncheckedIOException("cannot write certificates to " + dir + ": " + e.getMessage(), e);
    } catch (Exception e) {
      throw new IllegalStateException("cannot generate certificates: " + e.getMessage(), e);
    }
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

  private static KeyPair newKeyPair() throws GeneralSecurityException {
    KeyPairGenerator generator = KeyPairGenerator.getInstance("EC");
    generator.initialize(new ECGenParameterSpec("secp256r1"), new SecureRandom());
    return generator.generateKeyPair();
  }

  private static BigInteger serial() {
    return new BigInteger(64, new SecureRandom()).abs().add(BigInteger.ONE);
  }

  private static X509Certificate sign(X509v3CertificateBuilder builder, PrivateKey key) throws Exception {
    ContentSigner signer = new JcaContentSignerBuilder("SHA256withECDSA").build(key);
    return new JcaX509CertificateConverter().getCertificate(builder.build(signer));
  }

  private static String pem(Object object) throws IOException {
    StringWriter out = new StringWriter();
    try (JcaPEMWriter writer = new JcaPEMWriter(out)) {
      writer.writeObject(object);
    }
    return out.toString();
  }
}
