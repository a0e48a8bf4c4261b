package io.xenvbd.disk;

import java.nio.ByteBuffer;
import java.nio.charset.StandardCharsets;
import java.security.MessageDigest;
import java.security.NoSuchAlgorithmException;
import java.util.regex.Pattern;

/**
 * The stream one agent sends another for a cross-node clone: records, big-endian, in windows of at
 * most {@link #WINDOW_BYTES} of data, one HTTPS response each of a length fixed before its first
 * byte (so the server writes it as it comes, in full TLS records, not in 4 KiB chunks).
 *
 * <pre>
 * 'W' length(8)                                     first record of every window: the bytes that follow in it
 * 'H' size(8) dataBytes(8) fsLength(1) filesystem   then, in the first window only
 * 'D' offset(8) length(4) bytes                     an allocated extent's bytes; offsets only grow
 * trailer, exactly {@link #TRAILER_BYTES}, last in the window: type(1) length(2) payload, zeros
 *   'N' credential                                  window ends; fetch the next one with this credential
 *   'E' sha256(32)                                  the stream ends; the digest of everything sent
 *   'X' message (ASCII)                             the source refuses to go on (it was written to, say)
 * </pre>
 *
 * The trailer has a fixed size because what it says is known only once the window's data was read
 * (the image may have been written to meanwhile), after the response's length was sent. A window's
 * data is sized by the source from the rate of the one before, so that it takes about {@link
 * #WINDOW_SECONDS}.
 *
 * <p>Only allocated extents travel (found with SEEK_DATA/SEEK_HOLE), so holes stay holes. The
 * digest is SHA-256 over {@link #DOMAIN}, the size, and every D record's offset(8), length(4) and
 * bytes (the record as sent, less its type byte): equal digests mean equal logical content
 * (everything outside the D records is zeros up to the size).
 */
public final class TransferFormat {
  private TransferFormat() {}

  public static final byte WINDOW = 'W';
  public static final byte HEADER = 'H';
  public static final byte DATA = 'D';
  public static final byte NEXT = 'N';
  public static final byte END = 'E';
  public static final byte REFUSED = 'X';

  /** The largest D record. */
  public static final int CHUNK_BYTES = 1 << 20;

  /** A D record's bytes before its data: type, offset, length. */
  static final int RECORD_HEADER_BYTES = 13;

  /** The fixed size of a window's last record (N, E or X with its padding). */
  public static final int TRAILER_BYTES = 512;

  /** The most data bytes a window carries (the source ends it with an N record then). */
  public static final long WINDOW_BYTES = 64L << 20;

  /** The first window's data: at 1 MiB/s well inside the server's 60 s response time. */
  static final long FIRST_WINDOW_BYTES = 8L << 20;

  /** The least data a window is sized for, however slow the one before was. */
  static final long MIN_WINDOW_BYTES = 1L << 20;

  /**
   * The largest window length a receiver accepts: the data, with a record header per block of 512
   * bytes at worst, a header and the trailer.
   */
  public static final long MAX_WINDOW_LENGTH = 2 * WINDOW_BYTES;

  /**
   * Seconds of sending a window is sized for, from the rate of the one before, well under the
   * server's 60 s.
   */
  public static final long WINDOW_SECONDS = 20;

  /** What a ticket or continuation credential looks like: base64url of 32 random bytes. */
  public static final Pattern CREDENTIAL = Pattern.compile("^[A-Za-z0-9_-]{43}$");

  static final byte[] DOMAIN = "xenvbd-transfer-1\n".getBytes(StandardCharsets.US_ASCII);

  /** A digest primed with the domain and the size. */
  static MessageDigest digest(long size) {
    try {
      MessageDigest d = MessageDigest.getInstance("SHA-256");
      d.update(DOMAIN);
      d.update(ByteBuffer.allocate(8).putLong(size).array());
      return d;
    } catch (NoSuchAlgorithmException e) {
      throw new IllegalStateException("SHA-256 is missing from this JVM", e);
    }
  }
}
