package io.xenvbd.local;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import io.xenvbd.testing.RequiresRoot;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.attribute.PosixFilePermissions;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * Local mode's state directory holds every credential of the product: only its owner may enter it.
 */
class StateDirTest {
  @TempDir Path tmp;

  static String mode(Path p) throws Exception {
    return PosixFilePermissions.toString(Files.getPosixFilePermissions(p));
  }

  @Test
  void aMissingStateDirIsMadeOwnerOnlyAndAnOpenOneIsClosed() throws Exception {
    Path fresh = tmp.resolve("fresh");
    StateDir.secure(fresh);
    assertThat(mode(fresh)).isEqualTo("rwx------");

    Path open =
        Files.createDirectory(
            tmp.resolve("open"),
            PosixFilePermissions.asFileAttribute(PosixFilePermissions.fromString("rwxr-xr-x")));
    Files.setPosixFilePermissions(open, PosixFilePermissions.fromString("rwxrwxrwx"));
    StateDir.secure(open);
    assertThat(mode(open)).isEqualTo("rwx------");
  }

  @Test
  @RequiresRoot
  void aStateDirThatBelongsToAnotherUserIsRefused() throws Exception {
    Path theirs = Files.createDirectory(tmp.resolve("theirs"));
    Files.setAttribute(theirs, "unix:uid", 65534);
    assertThatThrownBy(() -> StateDir.secure(theirs))
        .isInstanceOf(IllegalStateException.class)
        .hasMessageContaining("belongs to uid 65534")
        .hasMessageContaining("choose a --dir of your own");
  }

  @Test
  void aTokenIsWrittenOwnerOnlyAndKeptForTheNextStart() throws Exception {
    Path file = tmp.resolve("api-token");
    String first = StateDir.token(file);
    assertThat(mode(file)).isEqualTo("rw-------");
    assertThat(first).matches("[A-Za-z0-9_-]{43}");
    assertThat(StateDir.token(file)).isEqualTo(first);
    assertThat(Files.readString(file)).isEqualTo(first + "\n");
  }

  @Test
  void aTokenFileOthersCouldReadOrALinkOrGarbageIsReplacedNotTrusted() throws Exception {
    Path file = tmp.resolve("api-token");
    String first = StateDir.token(file);

    Files.setPosixFilePermissions(file, PosixFilePermissions.fromString("rw-r--r--"));
    String second = StateDir.token(file);
    assertThat(second).isNotEqualTo(first);
    assertThat(mode(file)).isEqualTo("rw-------");

    Path planted = Files.writeString(tmp.resolve("planted"), "a".repeat(43) + "\n");
    Files.setPosixFilePermissions(planted, PosixFilePermissions.fromString("rw-------"));
    Files.delete(file);
    Files.createSymbolicLink(file, planted);
    String third = StateDir.token(file);
    assertThat(third).isNotEqualTo("a".repeat(43));
    assertThat(Files.isSymbolicLink(file)).isFalse();
    assertThat(Files.readString(planted)).isEqualTo("a".repeat(43) + "\n");

    Files.writeString(file, "short\n");
    assertThat(StateDir.token(file)).matches("[A-Za-z0-9_-]{43}");
  }
}
