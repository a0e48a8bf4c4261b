package io.xenvbd.disk;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.catchThrowableOfType;

import java.io.ByteArrayInputStream;
import java.io.ByteArrayOutputStream;
import java.io.IOException;
import java.io.InputStream;
import java.io.RandomAccessFile;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import org.apache.commons.compress.archivers.tar.TarArchiveEntry;
import org.apache.commons.compress.archivers.tar.TarArchiveOutputStream;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

class TarSafetyTest {
  static final long MIB = 1 << 20;
  static final CommandRunner RUN = DiskTestSupport.RUN;

  @TempDir Path tmp;

  static byte[] tar(TarArchiveEntry... entries) throws IOException {
    ByteArrayOutputStream bytes = new ByteArrayOutputStream();
    try (TarArchiveOutputStream out = new TarArchiveOutputStream(bytes)) {
      for (TarArchiveEntry e : entries) {
        out.putArchiveEntry(e);
        out.closeArchiveEntry();
      }
    }
    return bytes.toByteArray();
  }

  static TarArchiveEntry link(String name, String target, byte type) {
    TarArchiveEntry e = new TarArchiveEntry(name, type, true);
    e.setLinkName(target);
    return e;
  }

  static String refusal(byte[] tar) {
    return refusal(new ByteArrayInputStream(tar), Long.MAX_VALUE);
  }

  static String refusal(InputStream tar, long maxBytes) {
    DiskException e =
        catchThrowableOfType(() -> TarSafety.check(tar, maxBytes), DiskException.class);
    assertThat(e).as("refused").isNotNull();
    assertThat(e.code()).isEqualTo(ErrorCode.InvalidRequest);
    return e.getMessage();
  }

  static long check(byte[] tar, long maxBytes) throws IOException {
    return TarSafety.check(new ByteArrayInputStream(tar), maxBytes);
  }

  @Test
  void ordinaryEntriesAndInwardLinksPass() throws IOException {
    assertThat(
            TarSafety.check(
                new ByteArrayInputStream(
                    tar(
                        new TarArchiveEntry("./etc/", true),
                        new TarArchiveEntry("etc/passwd", true),
                        link("bin/sh", "dash", TarArchiveEntry.LF_SYMLINK),
                        link("usr/lib/x", "../../lib/x", TarArchiveEntry.LF_SYMLINK),
                        link(
                            "etc/localtime", "/usr/share/zoneinfo/UTC", TarArchiveEntry.LF_SYMLINK),
                        link("bin/sh2", "bin/sh", TarArchiveEntry.LF_LINK))),
                Long.MAX_VALUE))
        .isZero();
  }

  @Test
  void slipsAreRefused() throws IOException {
    assertThat(refusal(tar(new TarArchiveEntry("/etc/passwd", true)))).contains("absolute");
    assertThat(refusal(tar(new TarArchiveEntry("a/../../x", true)))).contains("'..'");
    assertThat(refusal(tar(link("usr/lib/x", "../../../etc", TarArchiveEntry.LF_SYMLINK))))
        .contains("outside");
    assertThat(
            refusal(
                tar(
                    link("x", "sub", TarArchiveEntry.LF_SYMLINK),
                    new TarArchiveEntry("x/y", true))))
        .contains("under the symbolic link");
    assertThat(
            refusal(
                tar(link("x", "sub", TarArchiveEntry.LF_SYMLINK), new TarArchiveEntry("x", true))))
        .contains("replaces");
    assertThat(refusal(tar(link("h", "../outside", TarArchiveEntry.LF_LINK)))).contains("'..'");
    // Invalid UTF-8 before "..": the byte is replaced, the dots are still seen.
    byte[] h = RawTar.header("x", '0', 0);
    System.arraycopy(new byte[] {(byte) 0xe0, '/', '.', '.', '/', '.', '.', '/', 'y'}, 0, h, 0, 9);
    assertThat(refusal(new RawTar().raw(RawTar.checksummed(h)).end())).contains("'..'");
  }

  /**
   * link(2) does not follow a symbolic link: a hard link to one is a second symbolic link (found in
   * review: {@code h/hostname} passed below {@code h}, a hard link to {@code s -> /etc}).
   */
  @Test
  void aHardLinkToASymbolicLinkIsOneAndAHardLinkMayNotReachThroughOne() throws IOException {
    assertThat(
            refusal(
                tar(
                    link("s", "/etc", TarArchiveEntry.LF_SYMLINK),
                    link("h", "s", TarArchiveEntry.LF_LINK),
                    new TarArchiveEntry("h/hostname"))))
        .isEqualTo(
            "archive entry 'h/hostname' is placed under the symbolic link 'h' of the same archive:"
                + " refused so that nothing is written outside the image; repack the archive with"
                + " relative paths inside it");
    assertThat(
            refusal(
                tar(
                    link("s", "/etc", TarArchiveEntry.LF_SYMLINK),
                    link("h", "./s", TarArchiveEntry.LF_LINK),
                    link("h2", "h", TarArchiveEntry.LF_LINK),
                    new TarArchiveEntry("h2/"))))
        .startsWith("archive entry 'h2/' replaces a symbolic link of the same archive");
    assertThat(
            refusal(
                tar(
                    link("s", "/etc", TarArchiveEntry.LF_SYMLINK),
                    link("h", "s/shadow", TarArchiveEntry.LF_LINK))))
        .isEqualTo(
            "archive entry 'h' is a hard link to 's/shadow', which lies under the symbolic link 's'"
                + " of the same archive: refused so that nothing is written outside the image;"
                + " repack the archive with relative paths inside it");
  }

  @Test
  void mountinfoEscapesAreDecoded() {
    assertThat(MountTable.unescape("/tmp/with\\040space")).isEqualTo("/tmp/with space");
    assertThat(MountTable.unescape("/plain")).isEqualTo("/plain");
  }

  @Test
  void anArchiveLargerThanTheDiskIsRefusedAtTheHeaderThatCrossesItBeforeItsData() {
    byte[] head =
        new RawTar()
            .file("small", "0123456789")
            .raw(RawTar.header("huge", '0', 8L << 30))
            .unterminated();
    RawTar.Endless zeros = new RawTar.Endless(head, "\0");
    assertThat(refusal(zeros, 32 * MIB))
        .isEqualTo(
            "archive unpacks to more than the disk's 33554432 bytes"
                + " (entry 'huge' crosses it): make spec.size larger or the archive smaller");
    assertThat(zeros.consumed)
        .as("bytes read of an archive whose second header declares 8 GiB")
        .isEqualTo(head.length);
  }

  @Test
  void entriesThatFillTheDiskExactlyPassAndOneByteMoreIsRefused() throws IOException {
    byte[] half = new byte[(int) (MIB / 2)];
    byte[] fits =
        new RawTar()
            .entry(RawTar.header("a", '0', half.length), half)
            .entry(RawTar.header("b", '0', half.length), half)
            .end();
    assertThat(check(fits, MIB)).isEqualTo(MIB);
    byte[] over =
        new RawTar()
            .entry(RawTar.header("a", '0', half.length), half)
            .entry(RawTar.header("b", '0', half.length), half)
            .file("c", "!")
            .end();
    assertThat(refusal(new ByteArrayInputStream(over), MIB))
        .contains("more than the disk's 1048576 bytes", "'c'");
  }

  @Test
  void sparseFilesCountTheBlocksTheirDataTouchesNotTheirApparentSize() throws IOException {
    // 1 GiB apparent, ten 4 KiB blocks of data 100 MiB apart: GNU tar stores only the data (and in
    // PAX
    // 1.0 a map of it).
    Path tree = Files.createDirectories(tmp.resolve("tree"));
    sparseFile(tree.resolve("disk.img"), 1L << 30, 100 * MIB);
    List<String> formats =
        List.of(
            "--format=gnu",
            "--format=posix --sparse-version=0.0",
            "--format=posix --sparse-version=0.1",
            "--format=posix --sparse-version=1.0");
    for (String format : formats) {
      Path archive = gnuTar(tree, format + " --sparse", "disk.img");
      try (InputStream in = Files.newInputStream(archive)) {
        assertThat(TarSafety.check(in, MIB)).as(format).isBetween(40960L, 40960L + 8192);
      }
    }
    // A crafted map: 300 chunks of 512 bytes 4 KiB apart store 150 KiB but allocate 300 blocks.
    long[][] chunks = new long[301][];
    for (int i = 0; i < 300; i++) chunks[i] = new long[] {i * 4096L, 512};
    chunks[300] = new long[] {300 * 4096L, 0}; // as GNU tar ends a map: where the file ends
    byte[] spread = new RawTar().oldGnuSparse("spread", 300 * 4096L, chunks).end();
    assertThat(check(spread, 2 * MIB)).isEqualTo(300 * 4096L);
    assertThat(refusal(new ByteArrayInputStream(spread), MIB))
        .contains("more than the disk's 1048576 bytes");
    // GNU tar starts every chunk on a block boundary, commons reads them back to back.
    chunks[0] = new long[] {0, 1};
    assertThat(refusal(new RawTar().oldGnuSparse("odd", 300 * 4096L, chunks).end()))
        .contains("sparse chunk of 1 bytes");
  }

  @Test
  void sparseFilesTheCheckerCannotReadAreRefusedSayingSo() throws IOException {
    // commons-compress 1.28 parses an old GNU real size as octal only, and PAX sparse sizes as int.
    Path tree = Files.createDirectories(tmp.resolve("big"));
    sparseFile(tree.resolve("disk.img"), 8L << 30, 1L << 30);
    try (InputStream in = Files.newInputStream(gnuTar(tree, "--format=gnu --sparse", "disk.img"))) {
      assertThat(refusal(in, MIB)).contains("sparse file of 8 GiB or more", "under 2 GiB");
    }
  }

  /** A sparse file of {@code size} with a 4 KiB block of data every {@code every} bytes. */
  static void sparseFile(Path file, long size, long every) throws IOException {
    try (RandomAccessFile f = new RandomAccessFile(file.toFile(), "rw")) {
      f.setLength(size);
      for (long at = 0; at + 4096 <= size; at += every) {
        f.seek(at);
        byte[] block = new byte[4096];
        Arrays.fill(block, (byte) 'b');
        f.write(block);
      }
    }
  }

  Path gnuTar(Path dir, String options, String... names) {
    Path archive = tmp.resolve("gnu-" + System.nanoTime() + ".tar");
    List<String> cmd = new ArrayList<>(List.of("tar"));
    cmd.addAll(List.of(options.split(" ")));
    cmd.addAll(List.of("-cf", archive.toString(), "-C", dir.toString()));
    cmd.addAll(List.of(names));
    RUN.run(cmd);
    return archive;
  }

  @Test
  void moreEntriesThanTheDiskHasRoomForAreRefusedCountingDirectoriesAndHardLinks()
      throws IOException {
    assertThat(check(manyEntries(8192), 32 * MIB)).isZero();
    assertThat(refusal(new ByteArrayInputStream(manyEntries(8193)), 32 * MIB))
        .isEqualTo(
            "archive has more than 8192"
                + " entries, more than a disk of 33554432 bytes has room for: make spec.size larger or pack fewer files");
    // Small disks still take 4096 entries.
    assertThat(check(manyEntries(4096), MIB)).isZero();
    assertThat(refusal(new ByteArrayInputStream(manyEntries(4097)), MIB))
        .contains("more than 4096 entries");
  }

  static byte[] manyEntries(int n) {
    RawTar t = new RawTar();
    for (int i = 0; i < n; i++) {
      switch (i % 3) {
        case 0 -> t.raw(RawTar.header("d" + i + "/", '5', 0));
        case 1 -> t.raw(RawTar.header("f" + i, '0', 0));
        default -> t.raw(RawTar.header("h" + i, '1', 0, "f" + (i - 1), RawTar.USTAR));
      }
    }
    return t.end();
  }

  @Test
  void absurdNamesAreRefused() throws IOException {
    String c255 = "c".repeat(255);
    String path4096 = (c255 + "/").repeat(16) + "x".repeat(4096 - 256 * 16);
    assertThat(check(new RawTar().pax('x', "path=" + path4096).file("p", "").end(), MIB)).isZero();
    assertThat(refusal(new RawTar().pax('x', "path=" + path4096 + "y").file("p", "").end()))
        .contains("longer than 4096 bytes");
    assertThat(refusal(new RawTar().gnuLong('L', "a/" + "c".repeat(256)).file("p", "").end()))
        .contains("component longer than 255 bytes");
    // Bytes, not characters: 85 three-byte characters fit a component, 86 do not.
    assertThat(check(new RawTar().pax('x', "path=" + "語".repeat(85)).file("p", "").end(), MIB))
        .isZero();
    assertThat(refusal(new RawTar().pax('x', "path=" + "語".repeat(86)).file("p", "").end()))
        .contains("255 bytes");
    assertThat(refusal(new RawTar().gnuLong('L', "safe\0../../etc/evil").file("p", "").end()))
        .contains("NUL byte");
    assertThat(
            refusal(
                new RawTar().pax('x', "linkpath=lib\0/etc").raw(RawTar.header("l", '2', 0)).end()))
        .contains("NUL byte");
    assertThat(
            refusal(
                new RawTar()
                    .gnuLong('K', "t/".repeat(2049))
                    .raw(RawTar.header("l", '2', 0, "", RawTar.GNU))
                    .end()))
        .contains("longer than 4096 bytes");
  }

  @Test
  void extendedHeadersDeclaringAGibibyteAreRefusedWithoutBeingRead() {
    for (char type : new char[] {'x', 'g', 'L', 'K'}) {
      RawTar.Endless in = new RawTar.Endless(RawTar.header("PaxHeaders/x", type, 1L << 30), "1 a=");
      assertThat(refusal(in, Long.MAX_VALUE))
          .as("type " + type)
          .contains("declares a 1073741824-byte");
      assertThat(in.consumed).as("type " + type).isEqualTo(512);
    }
  }

  @Test
  void whatCommonsWouldBufferBetweenTwoEntriesIsBounded() {
    // An old GNU sparse map whose every extension record says that another one follows.
    byte[] continued = RawTar.header("s", 'S', 0, "", RawTar.GNU);
    continued[482] = 1;
    String record = "\0".repeat(504) + "\1" + "\0".repeat(7);
    RawTar.Endless extensions = new RawTar.Endless(RawTar.checksummed(continued), record);
    assertThat(refusal(extensions, Long.MAX_VALUE)).contains("without reaching an entry");
    assertThat(extensions.consumed).isLessThanOrEqualTo(StrictTarInputStream.HEADER_BUDGET + 4096);
    // A PAX 1.0 sparse map is read into memory before the entry is returned.
    byte[] sparse =
        new RawTar()
            .pax(
                'x',
                "GNU.sparse.major=1",
                "GNU.sparse.minor=0",
                "GNU.sparse.name=f",
                "GNU.sparse.realsize=1")
            .raw(RawTar.header("GNUSparseFile.0/f", '0', 1L << 30))
            .raw("999999999\n".getBytes())
            .unterminated();
    RawTar.Endless map = new RawTar.Endless(sparse, "0\n");
    assertThat(refusal(map, Long.MAX_VALUE)).contains("without reaching an entry");
    assertThat(map.consumed).isLessThanOrEqualTo(StrictTarInputStream.HEADER_BUDGET + 4096);
    // Each extended header makes commons recurse once.
    RawTar chain = new RawTar();
    for (int i = 0; i < 9; i++) chain.pax('g', "comment=" + i);
    assertThat(refusal(chain.file("f", "").end())).contains("more than 8 extended headers");
  }

  @Test
  void archivesThatGnuTarWouldReadDifferentlyAreRefused() {
    // GNU tar skips a header with a bad checksum and extracts what follows; commons reads it as a
    // header.
    byte[] bad = RawTar.header("decoy", '0', 512);
    bad[0] = 'D';
    assertThat(refusal(new RawTar().raw(bad).file("hidden", "boom").end()))
        .contains("bad checksum");
    // Of two long names (or two PAX headers) GNU tar keeps the last, commons the first.
    assertThat(
            refusal(new RawTar().gnuLong('L', "first").gnuLong('L', "second").file("f", "").end()))
        .contains("two GNU long names");
    assertThat(
            refusal(
                new RawTar().pax('x', "path=first").pax('x', "path=second").file("f", "").end()))
        .contains("two PAX extended headers");
    assertThat(refusal(new RawTar().gnuLong('L', "long").pax('x', "path=pax").file("f", "").end()))
        .contains("both a PAX header and a GNU long name");
    // GNU tar reads no data after a directory, link, device or FIFO header: the data would be its
    // next header.
    byte[] hidden = new RawTar().file("hidden", "boom").unterminated();
    assertThat(refusal(new RawTar().entry(RawTar.header("d/", '0', hidden.length), hidden).end()))
        .contains(
            "'d/' is a directory that carries 1024 bytes of data, which GNU tar would read as the next header");
    for (char type : new char[] {'5', '2', '1', '3', '4', '6'}) {
      assertThat(
              refusal(
                  new RawTar()
                      .entry(RawTar.header("e", type, hidden.length, "t", RawTar.USTAR), hidden)
                      .end()))
          .as("type " + type)
          .contains("that carries 1024 bytes");
    }
    // commons takes a long-name record named like a directory for one and does not read its data.
    assertThat(
            refusal(
                new RawTar()
                    .entry(
                        RawTar.header("././@LongLink/", 'L', 5, "", RawTar.GNU),
                        "name\0".getBytes())
                    .file("f", "")
                    .end()))
        .contains("not where GNU tar reads the next header");
    // A star header with a full prefix: commons reads 131 bytes of it, GNU tar goes on into the
    // atime.
    byte[] star = RawTar.header("name", '0', 0);
    Arrays.fill(star, 345, 345 + 131, (byte) 'p');
    System.arraycopy("00000000001\0".getBytes(), 0, star, 476, 12);
    System.arraycopy("tar\0".getBytes(), 0, star, 508, 4);
    assertThat(refusal(new RawTar().raw(RawTar.checksummed(star)).end()))
        .contains("prefix that GNU tar reads longer");
    // star's sparse format: commons skips its real size, GNU tar knows nothing of it.
    assertThat(
            refusal(
                new RawTar()
                    .pax('x', "SCHILY.filetype=sparse", "SCHILY.realsize=100000")
                    .file("s", "abc")
                    .end()))
        .contains("star's format");
    // GNU tar reads any non-zero continuation flag as true, commons only 1.
    byte[] flagged = new RawTar().oldGnuSparse("s", 8192, new long[][] {{0, 1}}).end();
    flagged[482] = 2;
    System.arraycopy(RawTar.checksummed(Arrays.copyOf(flagged, 512)), 0, flagged, 0, 512);
    assertThat(refusal(flagged)).contains("neither 0 nor 1");
  }

  @Test
  void paddingAfterTheEndMarkerIsReadToItsEndButAnEndlessTailIsRefused() throws IOException {
    // Read to the end so that a decompressor can exit; a build would otherwise wait for it until
    // the timeout.
    byte[] padded = new RawTar().file("f", "x").end();
    padded = Arrays.copyOf(padded, padded.length + 64 * 1024);
    assertThat(check(padded, MIB)).isEqualTo(1);
    RawTar.Endless endless = new RawTar.Endless(padded, "\0");
    assertThat(refusal(endless, MIB))
        .contains("more than 1048576 bytes after its end-of-archive marker");
    assertThat(endless.consumed).isLessThan(padded.length + 2 * MIB);
  }

  @Test
  void aTruncatedArchiveIsNotReadable() {
    byte[] cut =
        new RawTar().raw(RawTar.header("f", '0', 1000)).raw("short".getBytes()).unterminated();
    assertThat(refusal(cut)).contains("not a tar archive that can be read");
  }

  @Test
  void archivesOfEveryGnuTarFormatPass() throws IOException {
    Path t = tmp.resolve("t");
    Files.createDirectories(t.resolve("etc"));
    Files.writeString(t.resolve("etc/conf"), "0123456789");
    Files.createSymbolicLink(t.resolve("etc/link"), Path.of("conf"));
    Files.createLink(t.resolve("etc/hard"), t.resolve("etc/conf"));
    Path deep = Files.createDirectories(t.resolve("deep/" + "d".repeat(90)));
    Files.writeString(deep.resolve("a-file-with-a-long-name"), "long path");
    Files.writeString(t.resolve("n".repeat(150)), "long name");
    for (String format : List.of("gnu", "oldgnu", "posix", "ustar", "v7")) {
      List<String> names = new ArrayList<>(List.of("etc"));
      if (!format.equals("v7")) names.add("deep"); // v7 names stop at 100 bytes
      if (!format.equals("v7") && !format.equals("ustar"))
        names.add("n".repeat(150)); // no ustar prefix splits it
      String options =
          "--format=" + format + (format.equals("posix") ? " --pax-option=comment=global" : "");
      long expected = format.equals("v7") ? 10 : format.equals("ustar") ? 19 : 28;
      try (InputStream in =
          Files.newInputStream(gnuTar(t, options, names.toArray(String[]::new)))) {
        assertThat(TarSafety.check(in, MIB)).as(format).isEqualTo(expected);
      }
    }
  }
}
