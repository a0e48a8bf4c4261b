package io.xenvbd.kube;

import java.io.IOException;
import java.io.UncheckedIOException;
import java.nio.ByteBuffer;
import java.nio.channels.FileChannel;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardCopyOption;
import java.nio.file.StandardOpenOption;
import java.nio.file.attribute.PosixFilePermission;
import java.nio.file.attribute.PosixFilePermissions;
import java.util.HexFormat;
import java.util.Set;
import java.util.concurrent.ThreadLocalRandom;

/**
 * The kubeconfig that lets the real kubectl in: it holds the API's token, so only its owner may
 * read it.
 */
final class Kubeconfig {
  private static final Set<PosixFilePermission> OWNER_FILE =
      PosixFilePermissions.fromString("rw-------");
  private static final Set<PosixFilePermission> OWNER_DIR =
      PosixFilePermissions.fromString("rwx------");

  private Kubeconfig() {}

  /**
   * Writes it under a fresh name, opened once with O_EXCL and mode 0600, then renamed into place:
   * no other user can read it at any moment, and a link planted at {@code file} is replaced, not
   * followed. A missing directory is made owner-only (0700); an existing one is left as it is.
   */
  static void write(Path file, String url, String caPem, BearerToken token) {
    String yaml =
        """
        apiVersion: v1
        kind: Config
        clusters:
        - name: xenvbd-local
          cluster:
            server: %s
            certificate-authority-data: %s
        users:
        - name: xenvbd-local
          user:
            token: "%s"
        contexts:
        - name: xenvbd-local
          context:
            cluster: xenvbd-local
            user: xenvbd-local
            namespace: default
        current-context: xenvbd-local
        """
            .formatted(
                url,
                EmbeddedApiServer.base64(caPem),
                token.value()); // base64, a well-formed token: no escaping
    Path target = file.toAbsolutePath();
    Path tmp =
        target.resolveSibling(
            "."
                + target.getFileName()
                + "."
                + HexFormat.of().toHexDigits(ThreadLocalRandom.current().nextLong())
                + ".tmp");
    try {
      Files.createDirectories(target.getParent(), PosixFilePermissions.asFileAttribute(OWNER_DIR));
      // A umask can only take more away from 0600.
      try (FileChannel out =
          FileChannel.open(
              tmp,
              Set.of(StandardOpenOption.CREATE_NEW, StandardOpenOption.WRITE),
              PosixFilePermissions.asFileAttribute(OWNER_FILE))) {
        ByteBuffer bytes = ByteBuffer.wrap(yaml.getBytes(StandardCharsets.UTF_8));
        while (bytes.hasRemaining()) {
          out.write(bytes);
        }
        out.force(true);
      }
      Files.move(tmp, target, StandardCopyOption.ATOMIC_MOVE, StandardCopyOption.REPLACE_EXISTING);
    } catch (IOException e) {
      throw new UncheckedIOException(
          "cannot write the kubeconfig " + file + ": " + e.getMessage(), e);
    } finally {
      try {
        Files.deleteIfExists(tmp);
      } catch (IOException ignored) {
        // only left behind if the directory itself went away
      }
    }
  }
}
