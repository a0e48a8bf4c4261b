package io.xenvbd.disk;

import static io.xenvbd.disk.DiskTestSupport.RUN;
import static io.xenvbd.disk.HostileInputs.mkfifo;
import static io.xenvbd.disk.HostileInputs.mknod;
import static io.xenvbd.disk.HostileInputs.symlink;
import static org.assertj.core.api.Assertions.assertThat;
import static org.junit.jupiter.api.Assertions.assertTimeoutPreemptively;

import io.xenvbd.testing.RequiresRoot;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.LinkOption;
import java.nio.file.Path;
import java.time.Duration;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * A build's temporary paths removed in the agent ({@link ImageBuilder#removedHere}): files, links,
 * FIFOs and device nodes are unlinked, never followed or opened, and what is not a flat directory
 * of such (a tree, a mount point) is left to rm -rf --one-file-system as before. The canaries (a
 * victim file and directory outside, a loop device whose node is planted) stay as they were.
 */
@RequiresRoot
class TempRemovalTest {
  @TempDir Path tmp;
  @TempDir Path victimHome;
  Canaries canaries;
  Path victimTree; // a directory outside the temps with a file in it: removed through a link?

  @BeforeEach
  void arm() throws IOException {
    canaries = Canaries.create(victimHome);
    canaries.arm();
    victimTree = Files.createDirectory(tmp.resolve("victim-tree"));
    Files.writeString(victimTree.resolve("keep"), "kept\n");
  }

  @AfterEach
  void canariesIntact() {
    try {
      assertThat(victimTree.resolve("keep")).hasContent("kept\n");
      canaries.verify("after the removal");
    } finally {
      canaries.close();
    }
  }

  @Test
  void aStagingDirectoryOfFilesLinksAFifoAndADeviceNodeIsRemovedWithNothingFollowed()
      throws IOException {
    Path staging = Files.createDirectory(tmp.resolve(".tmp-staging-1"));
    Files.writeString(staging.resolve("write"), "write /staging/content-0 /etc/hostname\n");
    symlink(staging.resolve("to-victim"), canaries.victim.toString());
    symlink(staging.resolve("to-victim-dir"), victimTree.toString());
    symlink(staging.resolve("to-empty-dir"), canaries.victimDir.toString());
    mkfifo(staging.resolve("fifo"));
    mknod(staging.resolve("disk"), canaries.blockNode());

    // a FIFO opened would block: the removal must end at once
    boolean removed =
        assertTimeoutPreemptively(Duration.ofSeconds(20), () -> ImageBuilder.removedHere(staging));

    assertThat(removed).isTrue();
    assertThat(staging).doesNotExist();
  }

  @Test
  void aTempThatIsALinkIsRemovedItselfNotWhatItNames() throws IOException {
    Path link = tmp.resolve(".tmp-staging-2");
    symlink(link, victimTree.toString());
    Path fileLink = tmp.resolve("vm.img.tmp-3");
    symlink(fileLink, canaries.victim.toString());

    assertThat(ImageBuilder.removedHere(link)).isTrue();
    assertThat(ImageBuilder.removedHere(fileLink)).isTrue();

    assertThat(Files.exists(link, LinkOption.NOFOLLOW_LINKS)).isFalse();
    assertThat(Files.exists(fileLink, LinkOption.NOFOLLOW_LINKS)).isFalse();
  }

  @Test
  void aFileIsRemovedAndAMissingPathIsGoneAlready() throws IOException {
    Path image = Files.write(tmp.resolve("vm.img.tmp-4"), new byte[4096]);

    assertThat(ImageBuilder.removedHere(image)).isTrue();
    assertThat(image).doesNotExist();
    assertThat(ImageBuilder.removedHere(tmp.resolve("never-made"))).isTrue();
  }

  @Test
  void aTreeIsLeftToRm() throws IOException {
    Path tree = Files.createDirectory(tmp.resolve(".tmp-staging-5"));
    Files.createDirectories(tree.resolve("etc/ssh"));
    Files.writeString(tree.resolve("etc/ssh/key"), "x");
    symlink(tree.resolve("etc/victim"), canaries.victim.toString());

    assertThat(ImageBuilder.removedHere(tree)).isFalse();

    assertThat(tree.resolve("etc/ssh/key")).hasContent("x");
  }

  @Test
  void aMountPointIsLeftAsItIsWithWhatIsMountedThere() throws IOException {
    Path mountPoint = Files.createDirectory(tmp.resolve(".tmp-mnt-6"));
    RUN.run("mount", "-t", "tmpfs", "-o", "size=1m", "xenvbd-test", mountPoint.toString());
    try {
      Files.writeString(mountPoint.resolve("guest-file"), "guest\n");

      assertThat(ImageBuilder.removedHere(mountPoint)).isFalse();

      assertThat(mountPoint.resolve("guest-file")).hasContent("guest");
    } finally {
      RUN.run("umount", mountPoint.toString());
    }
  }
}
