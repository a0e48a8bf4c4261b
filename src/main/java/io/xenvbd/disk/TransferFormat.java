package io.xenvbd.disk;

import java.nio.ByteBuffer;
import java.nio.charset.StandardCharsets;
import java.security.MessageDigest;
import java.security.NoSuchAlgorithmException;
import java.util.regex.Pattern;

/**
 * The stream one agent sends another for a cross-node clone: records, big-endian, in windows of at
 * most {@link #WINDOW_BYTES} of data (one HTTPS response each, well inside the server's response
 * time).
 *
 * <pre>
 * 'H' size(8) dataBytes(8) fsLength(1) filesystem   first record of the first window only
 * 'D' offset(8) length(4) bytes                     an allocated extent's bytes; offsets only grow
 * 'N' length(1) credential                          window ends; fetch the next one with this credential
 * 'E' sha256(32)                                    the stream ends; the digest of everything sent
 * 'X' length(2) message                             the source refuses to go on (it was written to, say)
 * </pre>
 *
 * Only allocated extents travel (found with SEEK_DATA/SEEK_HOLE), so holes stay holes. The digest
 * is SHA-256 over {@link #DOMAIN}, the size, and every D record's offset, length and bytes: equal
 * digests mean equal logical content (everything outside the D records is zeros up to the size).
 */
public final class TransferFormat {
  private TransferFormat() {}

  public static final byte HEADER = 'H';
  public static final byte DATA = 'D';
  public static final byte NEXT = 'N';
  public static final byte END = 'E';
  public static final byte REFUSED = 'X';

  /** The largest D record. */
  public static final int CHUNK_BYTES = 1 << 20;

  /** Data bytes per window before the source ends it with an N record. */
  public static final long WINDOW_BYTES = 64L << 20;

  /**
   * Seconds of sending per window before the source ends it (a slow link), well under the server's
   * 60 s.
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

  /** A D record's header into the digest (its bytes follow). */
  static void digestRecord(MessageDigest d, long offset, int length) {
    d.update(ByteBuffer.allocate(12).putLong(offset).putInt(length).array());
  }
}
