package io.xenvbd.disk;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.LinkOption;
import java.nio.file.Path;
import java.nio.file.attribute.PosixFilePermissions;
import java.time.Duration;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;
import org.junit.jupiter.api.io.TempDir;

/**
 * The engine's own writes into a tree that a tenant filled: links and special files are replaced,
 * never used.
 */
class TreeFilesTest {
  static final CommandRunner RUN = new CommandRunner(Duration.ofMinutes(1));

  @TempDir Path dir;

  Path tree() throws IOException {
    return Files.createDirectories(dir.resolve("tree/etc")).getParent();
  }

  Path victim() throws IOException {
    return Files.writeString(dir.resolve("victim"), "dom0's file\n");
  }

  @Test
  void aSymbolicLinkAtTheTailoredPathIsReplacedNotWrittenThrough() throws IOException {
    Path tree = tree();
    Path victim = victim();
    Files.createSymbolicLink(tree.resolve("etc/hostname"), victim);
    Files.createSymbolicLink(tree.resolve("etc/motd"), Path.of("../../victim"));

    TreeFiles.replaceFile(tree, "/etc/hostname", "guest\n", "0644");
    TreeFiles.replaceFile(tree, "/etc/motd", "hello\n", "0600");

    assertThat(victim).hasContent("dom0's file");
    assertThat(Files.isRegularFile(tree.resolve("etc/hostname"), LinkOption.NOFOLLOW_LINKS))
        .isTrue();
    assertThat(tree.resolve("etc/hostname")).hasContent("guest");
    assertThat(Files.getPosixFilePermissions(tree.resolve("etc/motd")))
        .containsExactlyInAnyOrderElementsOf(PosixFilePermissions.fromString("rw-------"));
    assertThat(tree.resolve("etc").toFile().list()).containsExactlyInAnyOrder("hostname", "motd");
  }

  @Test
  @Timeout(20)
  void aFifoAtTheTailoredPathIsReplacedWithoutBlocking() throws IOException {
    Path tree = tree();
    RUN.run("mkfifo", tree.resolve("etc/hostname").toString());

    TreeFiles.replaceFile(tree, "/etc/hostname", "guest\n", "0644");

    assertThat(Files.isRegularFile(tree.resolve("etc/hostname"), LinkOption.NOFOLLOW_LINKS))
        .isTrue();
    assertThat(tree.resolve("etc/hostname")).hasContent("guest");
  }

  @Test
  void aSymbolicLinkOnTheWayIsRefusedAndNothingIsWrittenWhereItPoints() throws IOException {
    Path tree = Files.createDirectories(dir.resolve("tree"));
    Path victimDir = Files.createDirectories(dir.resolve("victimdir"));
    Files.createSymbolicLink(tree.resolve("etc"), victimDir);
    Files.createSymbolicLink(tree.resolve("home"), Path.of("../victimdir"));

    assertThatThrownBy(() -> TreeFiles.replaceFile(tree, "/etc/hostname", "x\n", "0644"))
        .isInstanceOf(DiskException.class)
        .hasMessageContaining("'/etc' in the image is a symbolic link");
    assertThatThrownBy(() -> TreeFiles.directory(tree, "/home/user/.ssh"))
        .isInstanceOf(DiskException.class)
        .hasMessageContaining("'/home' in the image is a symbolic link");
    assertThat(victimDir.toFile().list()).isEmpty();
  }

  @Test
  void pathsThatClimbOrModesThatAreNotOctalAreRefused() throws IOException {
    Path tree = tree();
    assertThatThrownBy(() -> TreeFiles.replaceFile(tree, "/../../etc/x", "x", "0644"))
        .isInstanceOf(DiskException.class)
        .hasMessageContaining("'..'");
    assertThatThrownBy(() -> TreeFiles.replaceFile(tree, "etc/x", "x", "0644"))
        .isInstanceOf(DiskException.class)
        .hasMessageContaining("absolute");
    assertThatThrownBy(() -> TreeFiles.replaceFile(tree, "/etc/x", "x", "--reference=/etc/shadow"))
        .isInstanceOf(DiskException.class)
        .hasMessageContaining("not an octal mode");
    assertThatThrownBy(() -> TreeFiles.replaceFile(tree, "/etc", "x", "0644"))
        .isInstanceOf(DiskException.class)
        .hasMessageContaining("is a directory");
    assertThat(tree.resolve("etc").toFile().list()).isEmpty();
  }

  @Test
  void missingDirectoriesAreMadeRealAndReadable() throws IOException {
    Path tree = tree();
    Path d = TreeFiles.directory(tree, "/var/lib/x");
    assertThat(d).isEqualTo(tree.resolve("var/lib/x"));
    assertThat(Files.isDirectory(d, LinkOption.NOFOLLOW_LINKS)).isTrue();
    assertThat(PosixFilePermissions.toString(Files.getPosixFilePermissions(d)))
        .isEqualTo("rwxr-xr-x");
  }
}
