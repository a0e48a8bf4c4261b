package io.xenvbd.ca;

import java.io.IOException;
import java.io.StringWriter;
import java.io.UncheckedIOException;
import java.math.BigInteger;
import java.net.InetAddress;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.attribute.PosixFilePermissions;
import java.security.GeneralSecurityException;
import java.security.KeyPair;
import java.security.KeyPairGenerator;
import java.security.PrivateKey;
import java.security.SecureRandom;
import java.security.cert.X509Certificate;
import java.security.spec.ECGenParameterSpec;
import java.time.Duration;
import java.time.Instant;
import java.util.ArrayList;
import java.util.Date;
import java.util.List;
import java.util.regex.Pattern;
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
import org.bouncycastle.openssl.jcajce.JcaPEMWriter;
import org.bouncycastle.openssl.jcajce.JcaPKCS8Generator;
import org.bouncycastle.operator.ContentSigner;
import org.bouncycastle.operator.jcajce.JcaContentSignerBuilder;

/**
 * A small CA for tests, local mode and the embedded API server: a fresh key pair whose private half
 * lives only in this object, so it can issue one certificate per agent (for per-node identity) and
 * nothing once it is dropped. Production certificates come from the Helm chart or cert-manager, so
 * this package (and BouncyCastle, which it needs) is left out of the operator and agent image.
 */
public final class CertificateAuthority {
  private static final Pattern IP_LITERAL =
      Pattern.compile("^[0-9.]+$|^[0-9a-fA-F:]*:[0-9a-fA-F:.]*$");
  private static final Duration VALIDITY = Duration.ofDays(365);

  private final KeyPair keys;
  private final X509Certificate cert;
  private final Path caCert;

  /**
   * What {@link #issue} wrote: the CA certificate clients trust, and the server's certificate and
   * key.
   */
  public record Issued(Path caCert, Path cert, Path key) {}

  private CertificateAuthority(KeyPair keys, X509Certificate cert, Path caCert) {
    this.keys = keys;
    this.cert = cert;
    this.caCert = caCert;
  }

  /** A new CA, valid for one year, its certificate written to {@code dir/ca.crt}. */
  public static CertificateAuthority create(Path dir) {
    try {
      Files.createDirectories(dir);
      KeyPair caKeys = newKeyPair();
      X500Name caName = new X500Name("CN=xenvbd agent CA");
      JcaX509ExtensionUtils ext = new JcaX509ExtensionUtils();
      X509v3CertificateBuilder ca =
          new JcaX509v3CertificateBuilder(
                  caName, serial(), from(), to(), caName, caKeys.getPublic())
              .addExtension(Extension.basicConstraints, true, new BasicConstraints(0))
              .addExtension(
                  Extension.keyUsage, true, new KeyUsage(KeyUsage.keyCertSign | KeyUsage.cRLSign))
              .addExtension(
                  Extension.subjectKeyIdentifier,
                  false,
                  ext.createSubjectKeyIdentifier(caKeys.getPublic()));
      X509Certificate caCert = sign(ca, caKeys.getPrivate());
      Path file = dir.resolve("ca.crt");
      Files.writeString(file, pem(caCert));
      return new CertificateAuthority(caKeys, caCert, file);
    } catch (IOException e) {
      throw new UncheckedIOException(
          "cannot write the CA certificate to " + dir + ": " + e.getMessage(), e);
    } catch (Exception e) {
      throw new IllegalStateException("cannot generate a CA: " + e.getMessage(), e);
    }
  }

  /**
   * Writes a fresh CA ({@code ca.crt}) and a server certificate and key ({@code tls.crt}, {@code
   * tls.key}, mode 0600) signed by it, valid for {@code hostnames} (DNS names or IP literals) for
   * one year. The CA key is not kept: nothing else can be signed with it (use {@link #create} and
   * {@link #issue} for one certificate per agent).
   */
  public static Issued generate(Path dir, List<String> hostnames) {
    if (hostnames.isEmpty())
      throw new IllegalArgumentException("give at least one hostname or IP for the certificate");
    return create(dir).issue(dir, hostnames);
  }

  /** The PEM file of this CA's certificate: what clients trust. */
  public Path caCert() {
    return caCert;
  }

  /**
   * Writes a server certificate and key ({@code tls.crt}, {@code tls.key}, mode 0600) into {@code
   * dir}, signed by this CA, valid for one year for {@code names}: DNS names (an agent's node name
   * is one, see the operator's AgentTrust) or IP literals, the first also its common name.
   */
  public Issued issue(Path dir, List<String> names) {
    if (names.isEmpty())
      throw new IllegalArgumentException("give at least one hostname or IP for the certificate");
    try {
      Files.createDirectories(dir);
      KeyPair serverKeys = newKeyPair();
      List<GeneralName> sans = new ArrayList<>();
      for (String name : names) {
        sans.add(
            IP_LITERAL.matcher(name).matches()
                ? new GeneralName(
                    GeneralName.iPAddress, InetAddress.getByName(name).getHostAddress())
                : new GeneralName(GeneralName.dNSName, name));
      }
      JcaX509ExtensionUtils ext = new JcaX509ExtensionUtils();
      X509v3CertificateBuilder leaf =
          new JcaX509v3CertificateBuilder(
                  cert,
                  serial(),
                  from(),
                  to(),
                  new X500Name("CN=" + names.get(0)),
                  serverKeys.getPublic())
              .addExtension(Extension.basicConstraints, true, new BasicConstraints(false))
              .addExtension(
                  Extension.keyUsage,
                  true,
                  new KeyUsage(KeyUsage.digitalSignature | KeyUsage.keyEncipherment))
              .addExtension(
                  Extension.extendedKeyUsage,
                  false,
                  new ExtendedKeyUsage(KeyPurposeId.id_kp_serverAuth))
              .addExtension(
                  Extension.subjectAlternativeName,
                  false,
                  new GeneralNames(sans.toArray(new GeneralName[0])))
              .addExtension(
                  Extension.authorityKeyIdentifier, false, ext.createAuthorityKeyIdentifier(cert));
      X509Certificate serverCert = sign(leaf, keys.getPrivate());

      Issued out = new Issued(caCert, dir.resolve("tls.crt"), dir.resolve("tls.key"));
      Files.writeString(out.cert(), pem(serverCert));
      Files.deleteIfExists(out.key());
      Files.createFile(
          out.key(),
          PosixFilePermissions.asFileAttribute(PosixFilePermissions.fromString("rw-------")));
      Files.writeString(
          out.key(),
          pem(
              new JcaPKCS8Generator(
                  serverKeys.getPrivate(), null))); // PKCS#8, what most tools read
      return out;
    } catch (IOException e) {
      throw new UncheckedIOException(
          "cannot write certificates to " + dir + ": " + e.getMessage(), e);
    } catch (Exception e) {
      throw new IllegalStateException("cannot generate certificates: " + e.getMessage(), e);
    }
  }

  private static Date from() {
    return Date.from(Instant.now().minus(Duration.ofMinutes(5)));
  }

  private static Date to() {
    return Date.from(Instant.now().plus(VALIDITY));
  }

  private static KeyPair newKeyPair() throws GeneralSecurityException {
    KeyPairGenerator generator = KeyPairGenerator.getInstance("EC");
    generator.initialize(new ECGenParameterSpec("secp256r1"), new SecureRandom());
    return generator.generateKeyPair();
  }

  private static BigInteger serial() {
    return new BigInteger(64, new SecureRandom()).abs().add(BigInteger.ONE);
  }

  private static X509Certificate sign(X509v3CertificateBuilder builder, PrivateKey key)
      throws Exception {
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
