package io.xenvbd.local;

import com.sun.security.auth.module.UnixSystem;
import io.xenvbd.kube.BearerToken;
import io.xenvbd.protocol.TokenFile;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.LinkOption;
import java.nio.file.NoSuchFileException;
import java.nio.file.Path;
import java.nio.file.StandardCopyOption;
import java.nio.file.attribute.PosixFileAttributes;
import java.nio.file.attribute.PosixFilePermission;
import java.nio.file.attribute.PosixFilePermissions;
import java.util.Set;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * Local mode's state directory and the tokens kept in it. The directory holds the credentials of
 * the whole product (the API token, the agent token, the agents' TLS key, the kubeconfig), so it
 * belongs to the user who runs local mode and nobody else may enter it.
 */
final class StateDir {
  private static final Logger LOG = LoggerFactory.getLogger(StateDir.class);
  private static final Set<PosixFilePermission> OWNER_DIR =
      PosixFilePermissions.fromString("rwx------");
  private static final Set<PosixFilePermission> OWNER_FILE =
      PosixFilePermissions.fromString("rw-------");
  private static final long MAX_TOKEN_FILE = 4096;

  private StateDir() {}

  /**
   * Makes {@code dir} if needed and owner-only (0700); refuses one that belongs to another user.
   */
  static void secure(Path dir) throws IOException {
    Files.createDirectories(dir, PosixFilePermissions.asFileAttribute(OWNER_DIR));
    int owner = (Integer) Files.getAttribute(dir, "unix:uid");
    if (owner != uid()) {
      // Its owner could swap the tokens or the kubeconfig under us.
      throw new IllegalStateException(
          "the state directory "
              + dir
              + " belongs to uid "
              + owner
              + ", not to uid "
              + uid()
              + " who runs xenvbd local: choose a --dir of your own");
    }
    if (!Files.getPosixFilePermissions(dir).equals(OWNER_DIR)) {
      Files.setPosixFilePermissions(dir, OWNER_DIR);
      LOG.info("made the state directory {} owner-only (0700): it holds the API token", dir);
    }
  }

  /**
   * The token kept in {@code file}, or a new one (256 random bits) written there 0600 if the file
   * is missing or cannot be trusted: not a regular file of ours, readable or writable by others, or
   * not a well-formed token. Kept, it lets a restart accept the kubeconfigs and agents of the last
   * run.
   */
  static String token(Path file) throws IOException {
    String kept = kept(file);
    if (kept != null) return kept;
    String token = BearerToken.generate().value();
    Path tmp = file.resolveSibling(file.getFileName() + ".tmp");
    Files.deleteIfExists(tmp);
    Files.createFile(tmp, PosixFilePermissions.asFileAttribute(OWNER_FILE));
    Files.writeString(tmp, token + "\n");
    // rename(2) replaces whatever is at file, a link too, without following it.
    Files.move(tmp, file, StandardCopyOption.ATOMIC_MOVE, StandardCopyOption.REPLACE_EXISTING);
    return token;
  }

  private static String kept(Path file) throws IOException {
    PosixFileAttributes a;
    try {
      a = Files.readAttributes(file, PosixFileAttributes.class, LinkOption.NOFOLLOW_LINKS);
    } catch (NoSuchFileException e) {
      return null;
    }
    boolean trusted =
        a.isRegularFile()
            && a.size() <= MAX_TOKEN_FILE
            && OWNER_FILE.containsAll(a.permissions())
            && (Integer) Files.getAttribute(file, "unix:uid", LinkOption.NOFOLLOW_LINKS) == uid();
    String value = trusted ? TokenFile.read(file) : null;
    if (!BearerToken.isWellFormed(value)) {
      LOG.warn(
          "{} is not an owner-only file holding a well-formed token: replacing it with a new one (the old"
              + " one is no longer accepted)",
          file);
      return null;
    }
    return value;
  }

  private static long uid() {
    return new UnixSystem().getUid();
  }
}
