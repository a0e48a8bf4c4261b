package io.xenvbd.disk;

import static io.xenvbd.disk.DiskTestSupport.*;
import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.catchThrowableOfType;
import static org.junit.jupiter.api.Assertions.assertTimeoutPreemptively;

import io.xenvbd.api.Populate;
import io.xenvbd.api.VirtualDiskSpec.Filesystem;
import io.xenvbd.testing.RequiresRoot;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.LinkOption;
import java.nio.file.Path;
import java.nio.file.StandardOpenOption;
import java.security.MessageDigest;
import java.security.NoSuchAlgorithmException;
import java.time.Duration;
import java.util.HexFormat;
import java.util.List;
import java.util.Random;
import java.util.concurrent.atomic.AtomicInteger;
import java.util.concurrent.atomic.AtomicLong;
import java.util.zip.CRC32;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * Bombs are refused before they cost dom0: a few hundred KiB of zstd (or a few MiB of gzip) that
 * unpack to 8 GiB, and an archive of more small files than the disk has room for, never take much
 * more than the disk's size under the images root while the build runs, and leave nothing behind.
 * Offline is where a bomb would cost dom0 (its staging tree is on the images root); a LoopMount
 * image is bounded by its own size, but the build must still fail the same way. The images root is
 * a tmpfs, so that a regression fills 256 MiB of memory and fails, instead of filling the host's
 * disk.
 */
@RequiresRoot
class ArchiveBombTest {
  static final long DISK = 32L << 20;
  static final long MARGIN = 2L << 20;

  @TempDir static Path tmp;
  static Path scratch;
  static Path allowed;
  static Path zstdBomb;
  static Path gzipBomb;
  static Path manyFiles;
  static Path legit;
  static byte[] blob;

  @BeforeAll
  static void makeArchives() throws IOException {
    scratch = Files.createDirectories(tmp.resolve("scratch"));
    RUN.run(
        "mount",
        "-t",
        "tmpfs",
        "-o",
        "size=256m,mode=0755",
        "xenvbd-bomb-test",
        scratch.toString());
    allowed = Files.createDirectories(tmp.resolve("allowed"));
    Path work = Files.createDirectories(tmp.resolve("work"));

    // One 8 GiB file of zeros: its header, 512 compressed frames of 16 MiB of zeros, the end
    // marker.
    Path header = Files.write(work.resolve("header"), RawTar.header("zero", '0', 8L << 30));
    Path zeros = Files.write(work.resolve("zeros"), new byte[16 << 20]);
    Path end = Files.write(work.resolve("end"), new byte[1024]);
    zstdBomb =
        concatenated(
            allowed.resolve("bomb.tar.zst"), List.of("zstd", "-q", "-c"), header, zeros, 512, end);
    gzipBomb =
        concatenated(
            allowed.resolve("bomb.tar.gz"), List.of("gzip", "-9", "-c"), header, zeros, 512, end);

    // 20000 files of one byte: 20 MB of tar, far more files than a 32 MiB disk has room for (8192).
    RawTar files = new RawTar();
    for (int i = 0; i < 20000; i++) files.file("f/" + i, "x");
    Path plain = Files.write(work.resolve("many.tar"), files.end());
    manyFiles = allowed.resolve("many.tar.zst");
    RUN.run("zstd", "-q", "-f", plain.toString(), "-o", manyFiles.toString());

    // What a 32 MiB ext4 disk really holds: 24 MiB of data, and a sparse 1 GiB file with 16 KiB in
    // it.
    Path tree = Files.createDirectories(work.resolve("tree/data"));
    blob = new byte[24 << 20];
    new Random(42).nextBytes(blob);
    Files.write(tree.resolve("blob"), blob);
    TarSafetyTest.sparseFile(tree.resolve("sparse.img"), 1L << 30, 256L << 20);
    legit = allowed.resolve("legit.tar.zst");
    RUN.run(
        "tar",
        "--zstd",
        "--sparse",
        "-cf",
        legit.toString(),
        "-C",
        tree.getParent().toString(),
        "data");
  }

  /**
   * Compresses each part on its own and concatenates the results: zstd and gzip read that as one
   * stream.
   */
  static Path concatenated(
      Path out, List<String> compressor, Path header, Path chunk, int times, Path end)
      throws IOException {
    byte[] head = compress(compressor, header);
    byte[] body = compress(compressor, chunk);
    byte[] tail = compress(compressor, end);
    Files.write(out, head);
    for (int i = 0; i < times; i++) Files.write(out, body, StandardOpenOption.APPEND);
    Files.write(out, tail, StandardOpenOption.APPEND);
    return out;
  }

  static byte[] compress(List<String> compressor, Path file) throws IOException {
    Path out = file.resolveSibling(file.getFileName() + ".compressed");
    Process p =
        new ProcessBuilder(compressor)
            .redirectInput(file.toFile())
            .redirectOutput(out.toFile())
            .start();
    try {
      assertThat(p.waitFor()).isZero();
    } catch (InterruptedException e) {
      p.destroyForcibly();
      throw new IOException(e);
    }
    return Files.readAllBytes(out);
  }

  @AfterAll
  static void unmountAndCheck() {
    RUN.exec(List.of("umount", scratch.toString()), Duration.ofMinutes(1), null);
    assertNothingAttachedUnder(tmp);
  }

  /**
   * Samples what the images root really allocates (du -x: not what is mounted inside it) every 20
   * ms.
   */
  static final class AllocationPoller implements AutoCloseable {
    final AtomicLong max = new AtomicLong();
    final AtomicInteger samples = new AtomicInteger();
    private final Thread thread;
    private volatile boolean stop;

    AllocationPoller(Path root) {
      thread =
          new Thread(
              () -> {
                while (!stop) {
                  max.accumulateAndGet(allocatedUnder(root), Math::max);
                  samples.incrementAndGet();
                  try {
                    Thread.sleep(20);
                  } catch (InterruptedException e) {
                    return;
                  }
                }
              },
              "allocation-poller");
      thread.setDaemon(true);
      thread.start();
    }

    static long allocatedUnder(Path root) {
      if (!Files.exists(root, LinkOption.NOFOLLOW_LINKS)) return 0;
      // du reports files that vanish under it and exits 1; what it could read is still the total.
      String out =
          RUN.exec(List.of("du", "-s", "-x", "-B1", root.toString()), Duration.ofSeconds(30), null)
              .stdout();
      String first = out.strip().split("\\s+")[0];
      return first.matches("\\d+") ? Long.parseLong(first) : 0;
    }

    @Override
    public void close() throws InterruptedException {
      stop = true;
      thread.join();
    }
  }

  record Outcome(DiskException error, ImageInfo image, long maxAllocated, int samples) {}

  static Outcome build(Path root, String name, Path archive, Populate.Method method)
      throws InterruptedException {
    DiskEngine engine = engine(root, allowed);
    Populate populate =
        new Populate(null, new Populate.Archive(archive.toString(), null), null, null, method);
    ImageInfo[] built = new ImageInfo[1];
    DiskException error;
    AllocationPoller poller = new AllocationPoller(root);
    try {
      error =
          assertTimeoutPreemptively(
              Duration.ofMinutes(2),
              () ->
                  catchThrowableOfType(
                      () ->
                          built[0] =
                              engine.build(
                                  request(name, spec("32Mi", Filesystem.ext4, populate, null)),
                                  ProgressListener.NONE),
                      DiskException.class));
    } finally {
      poller.close();
    }
    return new Outcome(error, built[0], poller.max.get(), poller.samples.get());
  }

  static void assertRefusedLeavingNothing(Outcome o, Path root, String message) {
    assertThat(o.error()).as("the build fails").isNotNull();
    assertThat(o.error().code()).as(o.error().getMessage()).isEqualTo(ErrorCode.InvalidRequest);
    assertThat(o.error().getMessage()).isEqualTo(message);
    assertThat(o.samples()).as("samples of the images root while the build ran").isPositive();
    assertThat(o.maxAllocated())
        .as("bytes allocated under the images root while the build ran")
        .isLessThanOrEqualTo(DISK + MARGIN);
    assertThat(nonImageEntries(root)).as("temporary files left").isEmpty();
    assertThat(engine(root).inventory().images()).isEmpty();
    assertNothingAttachedUnder(root);
  }

  @Test
  void zstdAndGzipBombsOf8GiBAreRefusedAtTheirHeaderBeforeTheyCostTheImagesRoot() throws Exception {
    assertThat(Files.size(zstdBomb)).as("a few hundred KiB").isLessThan(1L << 20);
    assertThat(Files.size(gzipBomb))
        .as("gzip cannot do better than about 1:1000")
        .isLessThan(10L << 20);
    String message =
        "archive unpacks to more than the disk's 33554432 bytes (entry 'zero' crosses it):"
            + " make spec.size larger or the archive smaller";
    Path root = scratch.resolve("bombs");
    for (Path bomb : List.of(zstdBomb, gzipBomb)) {
      for (Populate.Method method : List.of(Populate.Method.Offline, Populate.Method.LoopMount)) {
        Outcome o = build(root, "bomb-" + method.name().toLowerCase(), bomb, method);
        assertRefusedLeavingNothing(o, root, message);
      }
    }
  }

  /**
   * An xz header may declare a dictionary of gigabytes for data that needs 1 MiB: found in review,
   * 156 KB that made the decompressor hold 1 GiB of dom0's memory, once in the check and once in
   * tar. The decompressor's limit refuses it before it allocates.
   */
  @Test
  void anXzArchiveThatAsksForAHugeDictionaryIsRefusedBeforeItGetsTheMemory() throws Exception {
    Path tar =
        Files.write(
            tmp.resolve("work/small.tar"), new RawTar().file("etc/hostname", "guest\n").end());
    byte[] xz = compress(List.of("xz", "--lzma2=preset=0,dict=1MiB", "-c"), tar);
    Path archive = Files.write(allowed.resolve("huge-dictionary.tar.xz"), withDictionary(xz, 39));
    String summary =
        RUN.run("xz", "--robot", "-lvv", archive.toString())
            .stdout()
            .lines()
            .filter(l -> l.startsWith("summary\t"))
            .findFirst()
            .orElseThrow();
    assertThat(Long.parseLong(summary.split("\t")[1]))
        .as("the memory xz says it needs")
        .isGreaterThanOrEqualTo(3L << 30);
    Path root = scratch.resolve("xz");
    for (Populate.Method method : List.of(Populate.Method.Offline, Populate.Method.LoopMount)) {
      Outcome o = build(root, "xz-" + method.name().toLowerCase(), archive, method);
      assertRefusedLeavingNothing(
          o,
          root,
          "archive needs more than 128 MiB of memory to decompress (its xz dictionary or window is"
              + " that large): recompress it with a smaller one, such as xz -6 or zstd without"
              + " --long");
    }
  }

  /** {@code xz} with its first block's LZMA2 dictionary set to {@code code} (39: 3 GiB). */
  static byte[] withDictionary(byte[] xz, int code) {
    byte[] b = xz.clone();
    int at = 12; // after the stream header
    int size = ((b[at] & 0xff) + 1) * 4;
    int flags = b[at + 1] & 0xff;
    int pos = at + 2;
    for (int sizes = flags & 0xc0; sizes != 0; sizes &= sizes - 1) {
      while ((b[pos] & 0x80) != 0) pos++; // a size as a varint
      pos++;
    }
    assertThat(b[pos]).as("the filter is LZMA2").isEqualTo((byte) 0x21);
    assertThat(b[pos + 1]).as("its properties' size").isEqualTo((byte) 1);
    b[pos + 2] = (byte) code;
    CRC32 crc = new CRC32();
    crc.update(b, at, size - 4);
    long c = crc.getValue();
    for (int i = 0; i < 4; i++) b[at + size - 4 + i] = (byte) (c >>> (8 * i));
    return b;
  }

  @Test
  void aBombOfManySmallFilesIsRefusedAtTheEntryLimit() throws Exception {
    Path root = scratch.resolve("files");
    for (Populate.Method method : List.of(Populate.Method.Offline, Populate.Method.LoopMount)) {
      Outcome o = build(root, "files-" + method.name().toLowerCase(), manyFiles, method);
      assertRefusedLeavingNothing(
          o,
          root,
          "archive has more than 8192 entries, more than a disk of 33554432 bytes"
              + " has room for: make spec.size larger or pack fewer files");
    }
  }

  @Test
  void anArchiveThatFillsMostOfTheDiskBuildsWithItsSparseFileStillSparse() throws Exception {
    Path root = scratch.resolve("legit");
    for (Populate.Method method : List.of(Populate.Method.Offline, Populate.Method.LoopMount)) {
      Outcome o = build(root, "legit-" + method.name().toLowerCase(), legit, method);
      assertThat(o.error()).as(method + " builds").isNull();
      assertThat(o.maxAllocated())
          .as("the poller sees content land")
          .isGreaterThanOrEqualTo(blob.length);
      List<Long> facts =
          readMounted(
              o.image().path(),
              tmp,
              mnt ->
                  List.of(
                      (long) (sha256(mnt.resolve("data/blob")).equals(sha256Of(blob)) ? 1 : 0),
                      mnt.resolve("data/sparse.img").toFile().length(),
                      allocated(mnt.resolve("data/sparse.img"))));
      assertThat(facts.get(0)).as(method + ": blob intact").isEqualTo(1L);
      assertThat(facts.get(1)).as(method + ": apparent size").isEqualTo(1L << 30);
      assertThat(facts.get(2)).as(method + ": allocated").isLessThan(1L << 20);
    }
    assertNothingAttachedUnder(root);
  }

  static String sha256Of(byte[] bytes) {
    try {
      return HexFormat.of().formatHex(MessageDigest.getInstance("SHA-256").digest(bytes));
    } catch (NoSuchAlgorithmException e) {
      throw new IllegalStateException(e);
    }
  }
}
