package io.xenvbd.kube;

import io.xenvbd.ca.CertificateAuthority;
import java.io.ByteArrayInputStream;
import java.io.IOException;
import java.io.UncheckedIOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.LinkOption;
import java.nio.file.Path;
import java.nio.file.attribute.PosixFileAttributes;
import java.nio.file.attribute.PosixFilePermission;
import java.nio.file.attribute.PosixFilePermissions;
import java.security.GeneralSecurityException;
import java.security.cert.CertificateFactory;
import java.security.cert.X509Certificate;
import java.time.Duration;
import java.time.Instant;
import java.util.Date;
import java.util.List;
import java.util.Set;

/**
 * The embedded API server's TLS: the CA certificate its clients trust, and the server certificate
 * (for 127.0.0.1 and localhost) and key that CA signed, as PEM. TLS is not optional: kubectl (like
 * every client-go program) sends a kubeconfig's credentials only over TLS, never over plain HTTP.
 */
public record ServerTls(String caPem, String certPem, String keyPem) {
  private static final List<String> HOSTS = List.of("127.0.0.1", "localhost");
  private static final Set<PosixFilePermission> OWNER_DIR =
      PosixFilePermissions.fromString("rwx------");
  private static final Set<PosixFilePermission> OWNER_FILE =
      PosixFilePermissions.fromString("rw-------");

  /** Kept material this close to its end is replaced rather than served until it fails. */
  private static final int RENEW_DAYS = 30;

  /**
   * Fresh material that lives in memory only (the CA key is never kept, so it signs nothing else).
   */
  public static ServerTls generate() {
    Path tmp = null;
    try {
      tmp =
          Files.createTempDirectory(
              "xenvbd-api-tls", PosixFilePermissions.asFileAttribute(OWNER_DIR));
      return read(CertificateAuthority.generate(tmp, HOSTS));
    } catch (IOException e) {
      throw new UncheckedIOException(
          "cannot make the API server's certificate: " + e.getMessage(), e);
    } finally {
      deleteQuietly(tmp);
    }
  }

  /**
   * The material kept in {@code dir} by an earlier start, or fresh material written there (key
   * 0600, directory 0700), so that a restart keeps the kubeconfigs it wrote working. Kept files are
   * used only if they are regular files, the key is owner-only, and the certificate, signed by the
   * CA, is valid for another {@value #RENEW_DAYS} days.
   */
  public static ServerTls keptIn(Path dir) {
    try {
      Files.createDirectories(dir, PosixFilePermissions.asFileAttribute(OWNER_DIR));
      Files.setPosixFilePermissions(dir, OWNER_DIR);
      CertificateAuthority.Issued files =
          new CertificateAuthority.Issued(
              dir.resolve("ca.crt"), dir.resolve("tls.crt"), dir.resolve("tls.key"));
      ServerTls kept = usable(files) ? read(files) : null;
      if (kept != null && kept.valid()) return kept;
      for (Path p : List.of(files.caCert(), files.cert(), files.key())) {
        Files.deleteIfExists(p); // a link is removed, not followed, before fresh files are written
      }
      return read(CertificateAuthority.generate(dir, HOSTS));
    } catch (IOException e) {
      throw new UncheckedIOException(
          "cannot keep the API server's certificate in " + dir + ": " + e.getMessage(), e);
    }
  }

  private static boolean usable(CertificateAuthority.Issued files) throws IOException {
    for (Path p : List.of(files.caCert(), files.cert(), files.key())) {
      if (!Files.isRegularFile(p, LinkOption.NOFOLLOW_LINKS)) return false;
    }
    PosixFileAttributes key =
        Files.readAttributes(files.key(), PosixFileAttributes.class, LinkOption.NOFOLLOW_LINKS);
    return OWNER_FILE.containsAll(key.permissions());
  }

  private boolean valid() {
    try {
      CertificateFactory factory = CertificateFactory.getInstance("X.509");
      X509Certificate ca =
          (X509Certificate)
              factory.generateCertificate(
                  new ByteArrayInputStream(caPem.getBytes(StandardCharsets.US_ASCII)));
      X509Certificate leaf =
          (X509Certificate)
              factory.generateCertificate(
                  new ByteArrayInputStream(certPem.getBytes(StandardCharsets.US_ASCII)));
      leaf.verify(ca.getPublicKey());
      leaf.checkValidity(Date.from(Instant.now().plus(Duration.ofDays(RENEW_DAYS))));
      return keyPem.contains("PRIVATE KEY");
    } catch (GeneralSecurityException | RuntimeException e) {
      return false;
    }
  }

  private static ServerTls read(CertificateAuthority.Issued files) throws IOException {
    return new ServerTls(
        Files.readString(files.caCert(), StandardCharsets.US_ASCII),
        Files.readString(files.cert(), StandardCharsets.US_ASCII),
        Files.readString(files.key(), StandardCharsets.US_ASCII));
  }

  private static void deleteQuietly(Path dir) {
    if (dir == null) return;
    try (var files = Files.list(dir)) {
      for (Path p : files.toList()) Files.deleteIfExists(p);
      Files.deleteIfExists(dir);
    } catch (IOException ignored) {
      // a temporary directory of ours, owner-only: at worst left for the next tmp cleaning
    }
  }

  /** Never prints the key. */
  @Override
  public String toString() {
    return "ServerTls[key redacted]";
  }
}
