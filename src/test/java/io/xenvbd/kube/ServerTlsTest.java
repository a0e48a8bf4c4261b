package io.xenvbd.kube;

import static org.assertj.core.api.Assertions.assertThat;

import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.attribute.PosixFilePermissions;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

class ServerTlsTest {
  @TempDir Path tmp;

  @Test
  void keptMaterialIsReusedSoThatARestartKeepsKubeconfigsTrustingTheServer() throws Exception {
    Path dir = tmp.resolve("api-tls");
    ServerTls first = ServerTls.keptIn(dir);
    assertThat(PosixFilePermissions.toString(Files.getPosixFilePermissions(dir)))
        .isEqualTo("rwx------");
    assertThat(PosixFilePermissions.toString(Files.getPosixFilePermissions(dir.resolve("tls.key"))))
        .isEqualTo("rw-------");
    assertThat(ServerTls.keptIn(dir)).isEqualTo(first);
    assertThat(first.toString()).doesNotContain("PRIVATE KEY");
  }

  @Test
  void aKeyOthersCouldReadOrABrokenCertificateIsReplaced() throws Exception {
    Path dir = tmp.resolve("api-tls");
    ServerTls first = ServerTls.keptIn(dir);
    Files.setPosixFilePermissions(
        dir.resolve("tls.key"), PosixFilePermissions.fromString("rw-r--r--"));
    ServerTls second = ServerTls.keptIn(dir);
    assertThat(second.keyPem()).isNotEqualTo(first.keyPem());
    assertThat(second.caPem()).isNotEqualTo(first.caPem());
    assertThat(PosixFilePermissions.toString(Files.getPosixFilePermissions(dir.resolve("tls.key"))))
        .isEqualTo("rw-------");

    Files.writeString(dir.resolve("tls.crt"), "not a certificate\n");
    assertThat(ServerTls.keptIn(dir).certPem())
        .contains("BEGIN CERTIFICATE")
        .isNotEqualTo(second.certPem());
  }
}
