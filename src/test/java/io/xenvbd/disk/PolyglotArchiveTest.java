package io.xenvbd.disk;

import static io.xenvbd.disk.DiskTestSupport.*;
import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.catchThrowableOfType;

import io.xenvbd.api.Populate;
import io.xenvbd.api.VirtualDiskSpec.Filesystem;
import io.xenvbd.testing.RequiresRoot;
import java.io.ByteArrayOutputStream;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Arrays;
import java.util.zip.CRC32;
import java.util.zip.Deflater;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** GNU tar extracts the archive the check read, not another one hidden in the same bytes. */
@RequiresRoot
class PolyglotArchiveTest {
  @TempDir Path tmp;

  /**
   * A gzip file of {@code checked} whose first bytes are also the plain tar {@code raw} (in gzip's
   * FEXTRA field).
   */
  static byte[] polyglot(byte[] checked, byte[] raw) {
    Deflater d = new Deflater(9, true);
    d.setInput(checked);
    d.finish();
    byte[] deflated = new byte[checked.length + 1024];
    int n = d.deflate(deflated);
    CRC32 crc = new CRC32();
    crc.update(checked);
    byte[] head = Arrays.copyOf(raw, raw.length);
    int xlen = head.length - 12;
    byte[] gzip = {0x1f, (byte) 0x8b, 8, 4, 0, 0, 0, 0, 0, 3, (byte) xlen, (byte) (xlen >> 8)};
    System.arraycopy(gzip, 0, head, 0, gzip.length);
    System.arraycopy(RawTar.checksummed(Arrays.copyOf(head, 512)), 0, head, 0, 512);
    ByteArrayOutputStream out = new ByteArrayOutputStream();
    out.writeBytes(head);
    out.write(deflated, 0, n);
    out.writeBytes(
        ByteBuffer.allocate(8)
            .order(ByteOrder.LITTLE_ENDIAN)
            .putInt((int) crc.getValue())
            .putInt(checked.length)
            .array());
    return out.toByteArray();
  }

  @Test
  void aGzipFileThatIsAlsoAPlainTarIsExtractedAsTheGzipThatWasChecked() throws Exception {
    Path allowed = Files.createDirectories(tmp.resolve("allowed"));
    byte[] checked = new RawTar().file("checked", "ok\n").end();
    byte[] raw = new RawTar().file("unchecked", "never checked\n").end();
    Path archive = Files.write(allowed.resolve("poly.tar.gz"), polyglot(checked, raw));
    Populate p =
        new Populate(
            null,
            new Populate.Archive(archive.toString(), null),
            null,
            null,
            Populate.Method.Offline);
    ImageInfo info =
        engine(tmp.resolve("images"), allowed)
            .build(request("p", spec("16Mi", Filesystem.ext4, p, null)), ProgressListener.NONE);
    var tree = readMounted(info.path(), tmp, DiskTestSupport::describe);
    assertThat(tree.keySet()).contains("/checked").noneMatch(k -> k.contains("\u001f"));
    assertNothingAttachedUnder(tmp);
  }

  /**
   * To the check, a plain V7 tar of one empty file; to GNU tar given it as a file, compress data
   * holding a 256 MiB file (CompressPolyglot): before, an Offline build of a 16 MiB disk wrote all
   * of it into its staging tree on the images root, unchecked.
   */
  @Test
  void aPlainTarThatIsCompressDataToGnuTarIsRefusedBeforeAnythingIsWritten() throws Exception {
    Path allowed = Files.createDirectories(tmp.resolve("allowed"));
    Path archive =
        Files.write(allowed.resolve("poly.tar"), CompressPolyglot.build(256L << 20, "bomb"));
    assertThat(Files.size(archive)).isLessThan(256L << 10);
    Populate p =
        new Populate(
            null,
            new Populate.Archive(archive.toString(), null),
            null,
            null,
            Populate.Method.Offline);
    Path root = tmp.resolve("images");
    DiskEngine engine = engine(root, allowed);
    DiskException e;
    try (ArchiveBombTest.AllocationPoller poller = new ArchiveBombTest.AllocationPoller(root)) {
      e =
          catchThrowableOfType(
              () ->
                  engine.build(
                      request("p", spec("16Mi", Filesystem.ext4, p, null)), ProgressListener.NONE),
              DiskException.class);
      assertThat(e).isNotNull();
      assertThat(e.code()).isEqualTo(ErrorCode.InvalidRequest);
      assertThat(e.getMessage())
          .isEqualTo(
              "archive is compressed with compress (.Z), which xenvbd does not unpack: give a tar"
                  + " archive, plain or compressed with gzip, xz, zstd or bzip2");
      poller.close();
      assertThat(poller.samples.get()).isPositive();
      assertThat(poller.max.get()).as("bytes allocated under the images root").isLessThan(4L << 20);
    }
    assertThat(Files.exists(root.resolve("default/p.img"))).isFalse();
    assertNothingAttachedUnder(tmp);
  }

  /**
   * The second defence, without the first: told the same file is a plain tar (as the check was
   * before it knew compress's magic), GNU tar reads it on its stdin, where it decompresses nothing
   * unasked: it refuses the archive, and the 256 MiB file is never written.
   */
  @Test
  void gnuTarToldAnArchiveIsPlainNeverUnpacksItAsCompressed() throws Exception {
    Path archive = Files.write(tmp.resolve("poly.tar"), CompressPolyglot.build(256L << 20, "bomb"));
    Path tree = Files.createDirectories(tmp.resolve("tree"));
    ArchiveExtractor extractor =
        new ArchiveExtractor(
            RUN,
            new ImagePaths(tmp.resolve("images"), java.util.List.of()),
            new Sandbox(RUN),
            UrlPolicy.none());
    DiskException e =
        catchThrowableOfType(
            () -> extractor.extract(archive, ArchiveExtractor.Compression.NONE, tree, 16L << 20),
            DiskException.class);
    assertThat(e).isNotNull();
    assertThat(e.getMessage()).contains("Archive is compressed");
    assertThat(tree.resolve("bomb")).doesNotExist();
    assertThat(ArchiveBombTest.AllocationPoller.allocatedUnder(tree)).isLessThan(1L << 20);
  }
}
