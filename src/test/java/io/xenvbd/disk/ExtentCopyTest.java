package io.xenvbd.disk;

import static io.xenvbd.disk.DiskTestSupport.allocated;
import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.catchThrowableOfType;

import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.channels.FileChannel;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardOpenOption;
import java.nio.file.attribute.PosixFilePermission;
import java.time.Duration;
import java.util.List;
import java.util.Random;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.ValueSource;

/**
 * A clone's copy on a root without reflinks: the same bytes, the same size, holes kept, blocks of
 * zeros and never-written (fallocated) extents left as holes; straight to the disk and through the
 * page cache alike; and never into a file that is already there.
 */
class ExtentCopyTest {
  private static final CommandRunner RUN = new CommandRunner(Duration.ofMinutes(1));
  private static final long MIB = 1 << 20;

  @TempDir Path tmp;

  /**
   * A source laid out as an image is: data at the start, a long hole, data with a run of zero
   * blocks inside it, an extent allocated but never written, and a tail that ends in data or in a
   * hole, of a size that is no multiple of a block.
   */
  private Path source(String name, long size, boolean endsInData) throws IOException {
    Path p = tmp.resolve(name);
    Random random = new Random(name.hashCode());
    try (FileChannel ch =
        FileChannel.open(p, StandardOpenOption.CREATE_NEW, StandardOpenOption.WRITE)) {
      write(ch, 0, random, 3 * MIB + 512); // ends inside a block
      write(ch, 40 * MIB, random, 9 * MIB); // an extent longer than one chunk of the copy
      ch.write(ByteBuffer.allocate((int) (2 * MIB)), 44 * MIB); // zeros inside that extent
      if (endsInData) write(ch, size - 5000, random, 5000);
    }
    RUN.run("fallocate", "-o", Long.toString(60 * MIB), "-l", Long.toString(4 * MIB), p.toString());
    RUN.run("truncate", "-s", Long.toString(size), p.toString());
    return p;
  }

  private static void write(FileChannel ch, long at, Random random, long length)
      throws IOException {
    byte[] data = new byte[(int) length];
    random.nextBytes(data);
    ch.write(ByteBuffer.wrap(data), at);
  }

  @ParameterizedTest(name = "direct={0}")
  @ValueSource(booleans = {true, false})
  void theCopyHasTheSourcesBytesAndSizeAndOnlyItsNonZeroDataIsAllocated(boolean direct)
      throws IOException {
    for (boolean endsInData : List.of(true, false)) {
      long size = 100 * MIB + 1234;
      Path src = source("src-" + direct + "-" + endsInData + ".img", size, endsInData);
      Path dst = tmp.resolve("dst-" + direct + "-" + endsInData + ".img");

      ExtentCopy.Copied c = ExtentCopy.copy(RUN, src, dst, p -> {}, direct);

      assertThat(c.direct()).as("written straight to the disk").isEqualTo(direct);
      assertThat(Files.size(dst)).isEqualTo(size);
      assertThat(Files.mismatch(src, dst)).as("first differing byte").isEqualTo(-1L);
      long data = 3 * MIB + 4096 + 7 * MIB + (endsInData ? 8192 : 0); // whole blocks, no zeros
      assertThat(c.dataBytes()).isEqualTo(data);
      assertThat(allocated(dst)).as("allocated bytes of the copy").isBetween(data, data + MIB);
      assertThat(allocated(src))
          .as("the source's, with its fallocated 4 MiB")
          .isGreaterThan(data + 5 * MIB);
      assertThat(Files.getPosixFilePermissions(dst))
          .containsExactlyInAnyOrder(
              PosixFilePermission.OWNER_READ, PosixFilePermission.OWNER_WRITE);
    }
  }

  /**
   * A template that a guest has written to every few blocks (what a used filesystem, or a hostile
   * tenant's, looks like): tens of thousands of extents, more than a tool's kept output would hold.
   * Every one is copied.
   */
  @Test
  void aSourceOfTensOfThousandsOfExtentsIsCopiedWhole() throws IOException {
    Path src = tmp.resolve("fragmented.img");
    int extents = 40_000;
    try (FileChannel ch =
        FileChannel.open(src, StandardOpenOption.CREATE_NEW, StandardOpenOption.WRITE)) {
      ByteBuffer block = ByteBuffer.allocate(4096);
      for (int i = 0; i < extents; i++) {
        block.clear();
        block.putInt(0, i + 1);
        ch.write(block, i * 12288L);
      }
    }
    Path dst = tmp.resolve("fragmented-copy.img");

    ExtentCopy.Copied c = ExtentCopy.copy(RUN, src, dst, p -> {});

    assertThat(Files.mismatch(src, dst)).as("first differing byte").isEqualTo(-1L);
    assertThat(c.dataBytes()).isEqualTo(extents * 4096L);
  }

  @Test
  void aTargetThatExistsIsNeitherFollowedNorWritten() throws IOException {
    Path src = source("src.img", 8 * MIB, true);
    Path victim = Files.writeString(tmp.resolve("victim"), "dom0's own file");
    Path link = tmp.resolve("clone.img");
    Files.createSymbolicLink(link, victim);

    DiskException e =
        catchThrowableOfType(() -> ExtentCopy.copy(RUN, src, link, p -> {}), DiskException.class);

    assertThat(e).isNotNull();
    assertThat(e.getMessage()).contains("creating " + link);
    assertThat(Files.readString(victim)).isEqualTo("dom0's own file");
    assertThat(Files.isSymbolicLink(link)).isTrue();
  }

  /**
   * A FIFO where the source or the target should be (what a link or special file planted in the
   * images root would be): neither is opened, so nothing blocks on it, and the copy fails at once.
   */
  @Test
  void aFifoAtTheSourceOrTheTargetIsNeverOpened() throws Exception {
    Path fifoSource = tmp.resolve("fifo-source.img");
    Path fifoTarget = tmp.resolve("fifo-target.img");
    RUN.run("mkfifo", fifoSource.toString(), fifoTarget.toString());
    Path src = source("plain.img", 8 * MIB, true);
    org.junit.jupiter.api.Assertions.assertTimeoutPreemptively(
        Duration.ofSeconds(20),
        () -> {
          DiskException fromFifo =
              catchThrowableOfType(
                  () -> ExtentCopy.copy(RUN, fifoSource, tmp.resolve("out.img"), p -> {}),
                  DiskException.class);
          assertThat(fromFifo).isNotNull();
          assertThat(fromFifo.getMessage()).contains("is not a regular file");
          assertThat(tmp.resolve("out.img")).doesNotExist();

          DiskException toFifo =
              catchThrowableOfType(
                  () -> ExtentCopy.copy(RUN, src, fifoTarget, p -> {}), DiskException.class);
          assertThat(toFifo).isNotNull();
          assertThat(toFifo.getMessage()).contains("creating " + fifoTarget);
        });
    assertThat(Files.isRegularFile(fifoTarget, java.nio.file.LinkOption.NOFOLLOW_LINKS)).isFalse();
  }

  @Test
  void anEmptySourceGivesAnEmptyCopyOfItsSize() throws IOException {
    Path src = tmp.resolve("hole.img");
    RUN.run("truncate", "-s", "64M", src.toString());
    Path dst = tmp.resolve("hole-copy.img");

    ExtentCopy.Copied c = ExtentCopy.copy(RUN, src, dst, p -> {});

    assertThat(c.dataBytes()).isZero();
    assertThat(Files.size(dst)).isEqualTo(64 * MIB);
    assertThat(allocated(dst)).isZero();
  }
}
