package io.xenvbd.disk;

import io.xenvbd.api.Populate;
import java.io.IOException;
import java.io.InputStream;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.attribute.PosixFilePermissions;
import java.security.DigestInputStream;
import java.security.MessageDigest;
import java.security.NoSuchAlgorithmException;
import java.util.ArrayList;
import java.util.HexFormat;
import java.util.List;
import java.util.function.Consumer;

/**
 * Unpacks a tar archive (plain, gzip, xz, zstd; from a node path or an http(s) URL) into an image
 * tree. Every entry is listed and checked first ({@link TarSafety}); GNU tar then extracts it in
 * the {@link Sandbox}, keeping owners, modes, links, device nodes and extended attributes.
 */
public final class ArchiveExtractor {
  private static final String ARCHIVE = "/archive";

  private final CommandRunner runner;
  private final ImagePaths paths;
  private final Sandbox sandbox;
  private final Downloader downloader;

  ArchiveExtractor(CommandRunner runner, ImagePaths paths, Sandbox sandbox, UrlPolicy urls) {
    this.runner = runner;
    this.paths = paths;
    this.sandbox = sandbox;
    this.downloader = new Downloader(urls);
  }

  /**
   * The archive as a local file; a URL is downloaded under the images root (the caller deletes
   * {@code tempOut}), at most {@code maxBytes} of it.
   */
  public Path fetch(Populate.Archive archive, long maxBytes, Consumer<Path> tempOut) {
    String src = archive.source();
    if (src.startsWith("http://") || src.startsWith("https://")) {
      Path tmp = paths.tempUnderRoot("download");
      tempOut.accept(tmp);
      downloader.download(src, tmp, maxBytes);
      verify(tmp, archive.sha256(), src, true);
      return tmp;
    }
    Path file = paths.allowedArchive(src);
    if (!Files.isRegularFile(file)) {
      throw DiskException.invalid(
          "archive '"
              + src
              + "' is not a file on this node: give the path of a tar archive or an http(s) URL");
    }
    // The archive is verified, checked and extracted from the agent's own copy: whoever can write
    // the
    // allowed directory cannot swap the file between the check and tar.
    Path dir = paths.tempUnderRoot("archive");
    tempOut.accept(dir);
    Path copy = copyCapped(file, dir, maxBytes + (maxBytes >> 3) + (1 << 20), src);
    verify(copy, archive.sha256(), src, false);
    return copy;
  }

  /**
   * Copies at most {@code cap} bytes (a compressed archive is not much larger than what it unpacks
   * to) into {@code dir}, in the sandbox and only from the very file that was checked ({@link
   * Sandbox#guarded}): a link put in place of a parent directory meanwhile reads nothing.
   */
  private Path copyCapped(Path from, Path dir, long cap, String what) {
    try {
      Files.createDirectory(
          dir, PosixFilePermissions.asFileAttribute(PosixFilePermissions.fromString("rwx------")));
    } catch (IOException e) {
      throw Io.wrap(e, "creating " + dir);
    }
    List<String> head =
        List.of(
            "sh",
            "-c",
            "head -c \"$0\" /in > " + Sandbox.TREE + "/archive",
            Long.toString(cap + 1));
    CommandRunner.Result r =
        sandbox.exec(
            dir,
            List.of(new Sandbox.ReadOnly(from, "/in")),
            Sandbox.guarded("/in", Sandbox.devIno(from), head),
            List.of("cp", from.toString()));
    if (r.exitCode() == Sandbox.SOURCE_CHANGED) {
      throw new DiskException(
          ErrorCode.SourceNotAllowed,
          "archive '"
              + what
              + "' was replaced while the disk was"
              + " built (a link put in its place?): nothing was read; make sure no one else writes the allowed"
              + " directory, and retry");
    }
    if (!r.ok()) throw CommandRunner.failure(r);
    Path copy = dir.resolve("archive");
    try {
      Formatter.privateFile(copy);
      if (Files.size(copy) > cap) {
        throw DiskException.invalid(
            "archive '"
                + what
                + "' is larger than the disk (spec.size) could ever hold:"
                + " make spec.size larger or the archive smaller");
      }
    } catch (IOException e) {
      throw Io.wrap(e, "reading the copy of archive " + what);
    }
    return copy;
  }

  static void verify(Path file, String expected, String what, boolean downloaded) {
    if (expected == null || expected.isEmpty()) return;
    try (InputStream in =
        new DigestInputStream(Files.newInputStream(file), MessageDigest.getInstance("SHA-256"))) {
      byte[] buf = new byte[1 << 16];
      DigestInputStream din = (DigestInputStream) in;
      while (din.read(buf) >= 0) {
        Io.checkInterrupted("checking the archive's sha256");
      }
      String actual = HexFormat.of().formatHex(din.getMessageDigest().digest());
      if (!actual.equalsIgnoreCase(expected)) {
        // A download's digest is not echoed: it would tell a tenant about a body it may not see.
        throw DiskException.invalid(
            "archive "
                + what
                + (downloaded ? " has another sha256" : " has sha256 " + actual)
                + " but the spec expects "
                + expected
                + ": fix populate.archive.sha256 or the archive");
      }
    } catch (IOException e) {
      throw Io.wrap(e, "reading archive " + what);
    } catch (NoSuchAlgorithmException e) {
      throw new IllegalStateException(e);
    }
  }

  /**
   * Lists and checks every entry (at most {@code maxBytes} unpacked), then extracts into {@code
   * tree}. Returns the archive's uncompressed size.
   */
  public long extract(Path archive, Path tree, long maxBytes) {
    Compression c = Compression.detect(archive);
    // The decompressor parses hostile bytes: it runs in the sandbox too, with no tree and no
    // network.
    long bytes =
        c.decompressor().isEmpty()
            ? readEntries(archive, maxBytes)
            : runner.stream(
                Sandbox.wrap(null, List.of(), c.decompressor()),
                archive,
                in -> TarSafety.check(in, maxBytes));
    List<String> cmd =
        new ArrayList<>(
            List.of(
                "tar",
                "--extract",
                "--file",
                ARCHIVE,
                "--directory",
                Sandbox.TREE,
                "--same-owner",
                "--numeric-owner",
                "--same-permissions",
                "--xattrs",
                "--xattrs-include=*",
                "--no-overwrite-dir"));
    // GNU tar must decompress exactly as the check did: on its own it reads a gzip/xz/bzip2 file
    // whose
    // first block is also a valid tar header as a plain tar, an archive nobody checked.
    switch (c) {
      case GZIP -> cmd.add(1, "--gzip");
      case XZ -> cmd.add(1, "--xz");
      case BZIP2 -> cmd.add(1, "--bzip2");
      case ZSTD -> cmd.add(1, "--zstd");
      case NONE -> {}
    }
    sandbox.run(tree, List.of(new Sandbox.ReadOnly(archive, ARCHIVE)), cmd);
    return bytes;
  }

  private static long readEntries(Path archive, long maxBytes) {
    try (InputStream in = Files.newInputStream(archive)) {
      return TarSafety.check(in, maxBytes);
    } catch (IOException e) {
      throw Io.wrap(e, "reading archive " + archive);
    }
  }

  enum Compression {
    NONE(List.of()),
    GZIP(List.of("gzip", "-dc")),
    XZ(List.of("xz", "-dc")),
    ZSTD(List.of("zstd", "-dc")),
    BZIP2(List.of("bzip2", "-dc"));

    private final List<String> decompressor;

    Compression(List<String> decompressor) {
      this.decompressor = decompressor;
    }

    List<String> decompressor() {
      return decompressor;
    }

    /** By magic number, never by file name: a URL rarely names its compression reliably. */
    static Compression detect(Path file) {
      byte[] m = new byte[6];
      try (InputStream in = Files.newInputStream(file)) {
        int n = in.readNBytes(m, 0, m.length);
        if (n >= 2 && (m[0] & 0xff) == 0x1f && (m[1] & 0xff) == 0x8b) return GZIP;
        if (n >= 6
            && (m[0] & 0xff) == 0xfd
            && m[1] == '7'
            && m[2] == 'z'
            && m[3] == 'X'
            && m[4] == 'Z'
            && m[5] == 0) return XZ;
        if (n >= 4
            && (m[0] & 0xff) == 0x28
            && (m[1] & 0xff) == 0xb5
            && (m[2] & 0xff) == 0x2f
            && (m[3] & 0xff) == 0xfd) return ZSTD;
        if (n >= 3 && m[0] == 'B' && m[1] == 'Z' && m[2] == 'h') return BZIP2;
        return NONE;
      } catch (IOException e) {
        throw Io.wrap(e, "reading archive " + file);
      }
    }
  }
}
