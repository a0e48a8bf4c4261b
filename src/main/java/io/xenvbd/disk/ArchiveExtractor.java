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
import java.util.Arrays;
import java.util.HexFormat;
import java.util.List;
import java.util.function.Consumer;

/**
 * Unpacks a tar archive (plain, gzip, xz, zstd; from a node path or an http(s) URL) into an image
 * tree. Every entry is listed and checked first ({@link TarSafety}); GNU tar then extracts it in
 * the {@link Sandbox}, keeping owners, modes, links, device nodes and extended attributes.
 */
public final class ArchiveExtractor {
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
   *
   * <p>GNU tar reads exactly the stream the check read: the archive comes on its stdin and is
   * decompressed, if at all, by the same program with the same limits as for the check. Given a
   * file, GNU tar would look at it itself and might read another archive than the one checked: a
   * gzip file whose first block is also a tar header as a plain tar, or a file that is a harmless
   * plain tar to the check and compress (or lzip, lzma, lzop) data to tar, which it would unpack,
   * unchecked (86 KB that wrote 1 GiB for a 16 MiB disk, found in review). On a pipe or stdin GNU
   * tar never decompresses unasked: data it takes for compressed is refused.
   */
  public long extract(Path archive, Path tree, long maxBytes) {
    return extract(archive, Compression.detect(archive), tree, maxBytes);
  }

  /** As {@link #extract(Path, Path, long)}, with the compression {@code c} found already. */
  long extract(Path archive, Compression c, Path tree, long maxBytes) {
    // The decompressor parses hostile bytes: it runs in the sandbox too, with no tree and no
    // network.
    long bytes =
        c == Compression.NONE
            ? readEntries(archive, maxBytes)
            : checkCompressed(archive, c, maxBytes);
    List<String> cmd = new ArrayList<>(List.of("tar", "--extract", "--file", "-"));
    if (c != Compression.NONE) cmd.add("--use-compress-program=" + String.join(" ", c.program()));
    cmd.addAll(
        List.of(
            "--directory",
            Sandbox.TREE,
            "--same-owner",
            "--numeric-owner",
            "--same-permissions",
            "--xattrs",
            "--xattrs-include=*",
            "--no-overwrite-dir"));
    sandbox.run(tree, List.of(), cmd, archive);
    return bytes;
  }

  /** The entries of a compressed archive, as its decompressor (in the sandbox) gives them. */
  private long checkCompressed(Path archive, Compression c, long maxBytes) {
    try {
      return runner.stream(
          Sandbox.wrap(null, List.of(), c.decompressor()),
          archive,
          in -> TarSafety.check(in, maxBytes));
    } catch (DiskException e) {
      if (e.code() != ErrorCode.CommandFailed) throw e;
      if (c.memoryRefusal(e.getMessage())) {
        throw DiskException.invalid(
            "archive needs more than "
                + Compression.MEMORY_MIB
                + " MiB of memory to decompress (its "
                + c.tool
                + " dictionary or window is that large): recompress it with a smaller one, such as"
                + " xz -6 or zstd without --long");
      }
      throw DiskException.invalid(
          "archive is not a valid "
              + c.tool
              + " stream ("
              + c.complaint(e.getMessage())
              + "): give a tar archive, plain or compressed with gzip, xz, zstd or bzip2");
    }
  }

  private static long readEntries(Path archive, long maxBytes) {
    try (InputStream in = Files.newInputStream(archive)) {
      return TarSafety.check(in, maxBytes);
    } catch (IOException e) {
      throw Io.wrap(e, "reading archive " + archive);
    }
  }

  enum Compression {
    NONE(null, List.of()),
    GZIP("gzip", List.of("gzip")),
    XZ("xz", List.of("xz", "--memlimit-decompress=" + Compression.MEMORY_MIB + "MiB")),
    // zstd's own default, said here so that it is a choice of ours, not of a zstd version
    ZSTD("zstd", List.of("zstd", "--memory=" + Compression.MEMORY_MIB + "MiB")),
    BZIP2("bzip2", List.of("bzip2"));

    /**
     * What one decompressor may use. xz -9 needs 65 MiB and zstd's largest levels 128 MiB; a header
     * may ask for gigabytes (an xz dictionary of 3 GiB in 156 KB, found in review), on dom0's
     * memory, once per worker. gzip and bzip2 need a few MiB whatever the header says.
     */
    static final int MEMORY_MIB = 128;

    final String tool;
    private final List<String> program;

    Compression(String tool, List<String> program) {
      this.tool = tool;
      this.program = program;
    }

    /** The program, with its limits, that GNU tar runs with {@code -d}. */
    List<String> program() {
      return program;
    }

    /** The same program decompressing stdin to stdout, for the check. */
    List<String> decompressor() {
      if (program.isEmpty()) return List.of();
      List<String> d = new ArrayList<>(program);
      d.add("-dc");
      return List.copyOf(d);
    }

    /** Whether a failure of this decompressor says that it would need more than its limit. */
    boolean memoryRefusal(String message) {
      return switch (this) {
        case XZ -> message.contains("Memory usage limit reached");
        case ZSTD -> message.contains("Frame requires too much memory");
        default -> false;
      };
    }

    /** The tool's first line of complaint in a failure's message, without the sandbox around it. */
    String complaint(String message) {
      int at = message.indexOf(tool + ": ");
      String line = at < 0 ? "unreadable" : message.substring(at);
      int end = line.indexOf('\n');
      return TarSafety.shown(end < 0 ? line : line.substring(0, end)).strip();
    }

    /** By magic number, never by file name: a URL rarely names its compression reliably. */
    static Compression detect(Path file) {
      byte[] m = new byte[512];
      int n;
      try (InputStream in = Files.newInputStream(file)) {
        n = in.readNBytes(m, 0, m.length);
      } catch (IOException e) {
        throw Io.wrap(e, "reading archive " + file);
      }
      if (starts(m, n, 0x1f, 0x8b)) return GZIP;
      if (starts(m, n, 0xfd, '7', 'z', 'X', 'Z', 0)) return XZ;
      if (starts(m, n, 0x28, 0xb5, 0x2f, 0xfd)) return ZSTD;
      if (starts(m, n, 'B', 'Z', 'h')) return BZIP2;
      // GNU tar takes a first block without the ustar magic that starts with one of these for
      // compressed data (and refuses it on its stdin): say so at once, in a sentence of ours.
      boolean ustar =
          n == 512 && starts(Arrays.copyOfRange(m, 257, 262), 5, 'u', 's', 't', 'a', 'r');
      String other =
          ustar
              ? null
              : starts(m, n, 0x1f, 0x9d)
                  ? "compress (.Z)"
                  : starts(m, n, 'L', 'Z', 'I', 'P')
                      ? "lzip"
                      : starts(m, n, 0xff, 'L', 'Z', 'M', 'A') || starts(m, n, 0x5d, 0, 0)
                          ? "lzma"
                          : starts(m, n, 0x89, 'L', 'Z', 'O') ? "lzop" : null;
      if (other != null) {
        throw DiskException.invalid(
            "archive is compressed with "
                + other
                + ", which xenvbd does not unpack: give a tar archive, plain or compressed with"
                + " gzip, xz, zstd or bzip2");
      }
      return NONE;
    }

    private static boolean starts(byte[] b, int n, int... magic) {
      if (n < magic.length) return false;
      for (int i = 0; i < magic.length; i++) {
        if ((b[i] & 0xff) != magic[i]) return false;
      }
      return true;
    }
  }
}
