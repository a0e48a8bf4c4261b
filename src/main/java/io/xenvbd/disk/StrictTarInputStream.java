package io.xenvbd.disk;

import java.io.IOException;
import java.io.InputStream;
import java.nio.charset.StandardCharsets;
import java.util.List;
import org.apache.commons.compress.archivers.tar.TarArchiveEntry;
import org.apache.commons.compress.archivers.tar.TarArchiveInputStream;
import org.apache.commons.compress.archivers.tar.TarArchiveStructSparse;
import org.apache.commons.compress.archivers.tar.TarUtils;
import org.apache.commons.compress.utils.ArchiveUtils;

/**
 * A commons-compress tar reader that only goes on while it frames the archive the way GNU tar will,
 * and that a hostile header cannot make hold much in memory. {@link TarSafety}'s checks are worth
 * something only if GNU tar then extracts the very entries that were checked, and the two readers
 * part ways on archives no tar writer makes: GNU tar skips a header with a bad checksum and
 * resynchronises on the next one, where commons reads it as a header; GNU tar reads no data after a
 * directory, link, device or FIFO header, commons skips the size it declares; of two long names (or
 * two PAX headers) GNU tar keeps the last, commons the first; a long name beside a PAX path is
 * resolved differently too. So every header must have a valid checksum and start exactly where GNU
 * tar's framing (a 512-byte header, then its data rounded up to 512 bytes) puts it, and a member
 * may have at most one PAX header, one long name and one long link, never a long name beside a PAX
 * header.
 *
 * <p>commons-compress 1.28 reads GNU long names and links, PAX headers and PAX 1.0 sparse maps into
 * memory with no limit of its own, and follows a chain of them recursively. So such a record may
 * declare at most {@link #MAX_EXTENDED} bytes, a member at most {@link #MAX_SPECIAL} of them, and
 * reading from one entry's end to the next entry's start stops at {@link #HEADER_BUDGET} bytes.
 */
final class StrictTarInputStream extends TarArchiveInputStream {
  static final int MAX_EXTENDED = 1 << 20;
  static final int HEADER_BUDGET = 4 << 20;
  static final int MAX_SPECIAL = 8;
  static final int MAX_TAIL = 1 << 20;
  private static final int RECORD = 512;

  private final BudgetedInputStream raw;

  /** The offset of the next header (or sparse extension) record as GNU tar frames the archive. */
  private long expected;

  /** The next record continues an old GNU sparse member's map instead of being a header. */
  private boolean extensionNext;

  private boolean ended;
  private int specials;
  private boolean pax;
  private boolean longName;
  private boolean longLink;

  private StrictTarInputStream(BudgetedInputStream raw) {
    super(raw, StandardCharsets.UTF_8.name());
    this.raw = raw;
  }

  static StrictTarInputStream over(InputStream in) {
    return new StrictTarInputStream(new BudgetedInputStream(in));
  }

  /** True if an IOException came from the stream underneath (not from a malformed archive). */
  boolean sourceFailed() {
    return raw.failed();
  }

  /**
   * Skips what is left of the current entry's data, then reads the next entry's headers; null at
   * the end.
   */
  TarArchiveEntry nextChecked() throws IOException {
    if (getCurrentEntry() != null) {
      while (skip(Long.MAX_VALUE) > 0) {
        // skip() may stop at a sparse chunk's end
      }
    }
    specials = 0;
    pax = longName = longLink = false;
    raw.budget(HEADER_BUDGET);
    TarArchiveEntry e;
    try {
      e = getNextEntry();
    } finally {
      raw.unlimited();
    }
    if (e == null) return null;
    String kind = dataless(e);
    if (kind != null && e.getSize() != 0) {
      // GNU tar reads nothing after such a header, so their data would be its next header; commons
      // skips it.
      throw DiskException.invalid(
          "archive entry '"
              + TarSafety.shown(e.getName())
              + "' is a "
              + kind
              + " that carries "
              + e.getSize()
              + " bytes of data, which GNU tar would read as the next header: repack the archive"
              + " with GNU tar");
    }
    if (e.isStarSparse()) {
      throw DiskException.invalid(
          "archive entry '"
              + TarSafety.shown(e.getName())
              + "' is a sparse file in star's"
              + " format, which GNU tar does not read: repack the archive with GNU tar");
    }
    if (e.isSparse()) checkChunks(e);
    expected += padded(e.getSize());
    return e;
  }

  /**
   * The kind of an entry GNU tar extracts without reading data (a regular file named "x/" is a
   * directory).
   */
  private static String dataless(TarArchiveEntry e) {
    if (e.isDirectory()) return "directory";
    if (e.isSymbolicLink()) return "symbolic link";
    if (e.isLink()) return "hard link";
    if (e.isCharacterDevice() || e.isBlockDevice()) return "device";
    if (e.isFIFO()) return "FIFO";
    return null;
  }

  /**
   * Reads what follows the end-of-archive marker (block padding, usually), at most {@link
   * #MAX_TAIL} bytes: a decompressor whose output is not read to its end never exits, and a build
   * would wait for it until the command timeout.
   */
  void finish() throws IOException {
    byte[] buf = new byte[64 * 1024];
    long tail = 0;
    int n;
    while ((n = raw.read(buf, 0, buf.length)) != -1) {
      tail += n;
      if (tail > MAX_TAIL) {
        throw DiskException.invalid(
            "archive goes on for more than "
                + MAX_TAIL
                + " bytes after its end-of-archive"
                + " marker: refused; repack the archive with GNU tar");
      }
    }
  }

  /**
   * GNU tar reads a sparse member's chunks block by block, each starting on a 512-byte boundary;
   * commons reads them back to back. They frame the member alike only if every chunk but the last
   * fills whole blocks, as GNU tar writes them.
   */
  private void checkChunks(TarArchiveEntry e) {
    List<TarArchiveStructSparse> chunks = e.getSparseHeaders();
    int last = chunks.size() - 1;
    while (last >= 0 && chunks.get(last).getNumbytes() == 0) last--;
    for (int i = 0; i < last; i++) {
      if (chunks.get(i).getNumbytes() % RECORD != 0) {
        throw DiskException.invalid(
            "archive entry '"
                + TarSafety.shown(e.getName())
                + "' has a sparse chunk of "
                + chunks.get(i).getNumbytes()
                + " bytes, which GNU tar and the agent would read differently (GNU tar"
                + " stores every chunk but the last in whole 512-byte blocks): repack the archive with GNU tar");
      }
    }
  }

  @Override
  protected byte[] readRecord() throws IOException {
    long at = raw.count();
    byte[] record = super.readRecord();
    if (record != null && !ended) frame(at, record);
    return record;
  }

  private void frame(long at, byte[] r) {
    if (at != expected) {
      throw refused(
          at,
          "is not where GNU tar reads the next header (a malformed archive, or one built to be read"
              + " two ways)");
    }
    expected = at + RECORD;
    if (extensionNext) {
      extensionNext = flag(r, 504, at);
      return;
    }
    if (ArchiveUtils.isArrayZero(r, RECORD)) {
      ended = true; // the end-of-archive marker: both readers stop here
      return;
    }
    if (!validChecksum(r)) {
      throw refused(
          at, "has a bad checksum, and GNU tar would skip it and read on from the next block");
    }
    if (ArchiveUtils.matchAsciiBuffer("tar\0", r, 508, 4) && r[475] != 0 && r[476] != 0) {
      // commons reads a 131-byte star prefix, GNU tar reads on into the star atime field up to a
      // NUL.
      throw refused(at, "has a name prefix that GNU tar reads longer than the agent does");
    }
    long size = size(r, at);
    switch (r[156]) {
      case 'x', 'X' -> {
        pax = once(pax, at, "two PAX extended headers");
        special(size, at);
      }
      case 'g' -> special(size, at);
      case 'L' -> {
        longName = once(longName, at, "two GNU long names");
        special(size, at);
      }
      case 'K' -> {
        longLink = once(longLink, at, "two GNU long link names");
        special(size, at);
      }
      case 'S' -> {
        if ((r[483] & 0x80) != 0) {
          // commons-compress 1.28 reads this real size as octal only (and a PAX sparse real size as
          // an int).
          throw DiskException.invalid(
              "archive header at byte "
                  + at
                  + " is a sparse file of 8 GiB or more, which the"
                  + " agent's tar reader cannot check yet: keep sparse files in the archive under 2 GiB");
        }
        extensionNext = flag(r, 482, at);
      }
      default -> {
        // a member: its data follows, framed by nextChecked() once commons has applied its PAX size
      }
    }
    if (pax && (longName || longLink))
      throw refused(at, "gives one member both a PAX header and a GNU long name");
  }

  private void special(long size, long at) {
    if (++specials > MAX_SPECIAL) {
      throw refused(at, "is one of more than " + MAX_SPECIAL + " extended headers for one member");
    }
    if (size > MAX_EXTENDED) {
      throw refused(
          at,
          "declares a "
              + size
              + "-byte long name or extended header, more than the "
              + MAX_EXTENDED
              + " bytes a real archive needs");
    }
    expected += padded(size);
  }

  private static boolean once(boolean seen, long at, String what) {
    if (seen)
      throw refused(at, "gives one member " + what + ", which tar readers resolve differently");
    return true;
  }

  /** GNU tar reads any non-zero byte as true, commons only 1: anything else is refused. */
  private static boolean flag(byte[] r, int offset, long at) {
    if (r[offset] != 0 && r[offset] != 1)
      throw refused(at, "has a sparse continuation flag that is neither 0 nor 1");
    return r[offset] == 1;
  }

  private static boolean validChecksum(byte[] r) {
    try {
      return TarUtils.verifyCheckSum(r);
    } catch (IllegalArgumentException e) {
      return false; // not even octal digits
    }
  }

  private static long size(byte[] r, long at) {
    try {
      long size = TarUtils.parseOctalOrBinary(r, 124, 12);
      if (size >= 0) return size;
    } catch (IllegalArgumentException e) {
      // refused below
    }
    throw refused(at, "has an unreadable size field");
  }

  private static long padded(long size) {
    long rounded = (size + RECORD - 1) / RECORD * RECORD;
    return rounded < 0 ? Long.MAX_VALUE / 2 : rounded;
  }

  private static DiskException refused(long at, String why) {
    return DiskException.invalid(
        "archive header at byte " + at + " " + why + ": refused; repack the archive with GNU tar");
  }
}
