package io.xenvbd.disk;

import java.io.DataInputStream;
import java.io.EOFException;
import java.io.IOException;
import java.io.InputStream;
import java.nio.ByteBuffer;
import java.nio.channels.FileChannel;
import java.nio.charset.StandardCharsets;
import java.nio.file.LinkOption;
import java.nio.file.Path;
import java.nio.file.StandardOpenOption;
import java.security.MessageDigest;
import java.util.Arrays;

/**
 * Receives a {@link TransferFormat} stream into a new file and checks it. Everything is bounded by
 * what the receiver was told before the first byte: the image may be at most {@code maxSize} bytes
 * and must have the expected filesystem; no record writes past the size the header declared,
 * offsets only grow, every window must carry data, and hold exactly the bytes its W record declares
 * (no record past it, nothing after its trailer). Only the D records are written (the rest stays
 * holes). Whatever went wrong the caller removes the file: it is never published unless the digest
 * matched.
 */
public final class TransferReceiver {
  /** Opens the next window of the stream with a ticket or a continuation credential. */
  public interface Windows {
    InputStream open(String credential) throws IOException;
  }

  /** What arrived: the image's apparent size and the data bytes written. */
  public record Received(long sizeBytes, long dataBytes) {}

  private TransferReceiver() {}

  /**
   * Fetches every window into {@code file} (created, must not exist). {@code progress} hears bytes
   * of data received against the total the source announced.
   */
  public static Received receive(
      Windows windows,
      String ticket,
      Path file,
      long maxSize,
      String filesystem,
      ProgressListener progress) {
    String credential = ticket;
    long size = -1;
    long total = 0;
    long received = 0;
    long next = 0; // the lowest offset the next D record may have
    MessageDigest digest = null;
    try (FileChannel ch =
        FileChannel.open(
            file,
            StandardOpenOption.CREATE_NEW,
            StandardOpenOption.WRITE,
            LinkOption.NOFOLLOW_LINKS)) {
      Formatter.privateFile(file);
      byte[] chunk = new byte[TransferFormat.CHUNK_BYTES];
      byte[] record = new byte[TransferFormat.RECORD_HEADER_BYTES];
      ByteBuffer fields = ByteBuffer.wrap(record);
      while (true) {
        Io.checkInterrupted("fetching the next window of the clone's source");
        boolean data = false;
        try (DataInputStream in = new DataInputStream(windows.open(credential))) {
          credential = null;
          int w = in.readUnsignedByte();
          if (w != TransferFormat.WINDOW) {
            throw bad(
                w == TransferFormat.HEADER
                    ? "it is the format of an older agent: upgrade the source node's agent"
                    : "a window does not start with its length");
          }
          long length = in.readLong();
          if (length < TransferFormat.TRAILER_BYTES || length > TransferFormat.MAX_WINDOW_LENGTH)
            throw bad("a window declares " + length + " bytes");
          long room = length - TransferFormat.TRAILER_BYTES; // for the records before the trailer
          while (credential == null) {
            int type = in.readUnsignedByte();
            if (size < 0 && type != TransferFormat.HEADER)
              throw bad("it does not start with a header");
            switch (type) {
              case TransferFormat.HEADER -> {
                if (size >= 0) throw bad("it has a second header");
                room = fits(room, 18);
                size = in.readLong();
                total = in.readLong();
                int fsLength = in.readUnsignedByte();
                room = fits(room, fsLength);
                String fs = new String(in.readNBytes(fsLength), StandardCharsets.US_ASCII);
                if (size <= 0 || size > maxSize) {
                  throw DiskException.invalid(
                      "the clone's source is "
                          + size
                          + " bytes, more than this disk's "
                          + maxSize
                          + ": set spec.size to at least the source's size");
                }
                if (!fs.equals(filesystem)) {
                  throw DiskException.invalid(
                      "the clone's source has filesystem "
                          + fs
                          + " but this disk asks for "
                          + filesystem
                          + ": set spec.filesystem to "
                          + fs);
                }
                ch.truncate(0);
                digest = TransferFormat.digest(size);
                progress.onProgress("Transfer", 0, total, 0);
              }
              case TransferFormat.DATA -> {
                room = fits(room, TransferFormat.RECORD_HEADER_BYTES);
                in.readFully(record, 1, TransferFormat.RECORD_HEADER_BYTES - 1);
                long offset = fields.getLong(1);
                int count = fields.getInt(9);
                if (count <= 0
                    || count > TransferFormat.CHUNK_BYTES
                    || offset < next
                    || offset > size - count) {
                  throw bad(
                      "a record of "
                          + count
                          + " bytes at offset "
                          + offset
                          + " lies outside the declared "
                          + size
                          + " bytes or overlaps the one before");
                }
                room = fits(room, count);
                in.readFully(chunk, 0, count);
                // the digest takes the record as sent, less its type byte
                digest.update(record, 1, TransferFormat.RECORD_HEADER_BYTES - 1);
                digest.update(chunk, 0, count);
                ByteBuffer b = ByteBuffer.wrap(chunk, 0, count);
                while (b.hasRemaining()) ch.write(b, offset + b.position());
                next = offset + count;
                received += count;
                data = true;
                progress.onProgress("Transfer", received, Math.max(total, received), 0);
              }
              case TransferFormat.NEXT, TransferFormat.END, TransferFormat.REFUSED -> {
                byte[] payload = trailer(in, room);
                if (type == TransferFormat.NEXT) {
                  String c = new String(payload, StandardCharsets.US_ASCII);
                  if (!TransferFormat.CREDENTIAL.matcher(c).matches())
                    throw bad("its continuation credential is malformed");
                  if (!data) throw bad("a window carried no data");
                  credential = c;
                } else if (type == TransferFormat.END) {
                  if (payload.length != 32 || !MessageDigest.isEqual(payload, digest.digest())) {
                    throw new DiskException(
                        ErrorCode.TransferFailed,
                        "the clone's source arrived with a checksum that"
                            + " does not match its content ("
                            + received
                            + " bytes received): nothing was published; the"
                            + " clone is retried, and if it fails again check the network between the two nodes");
                  }
                  setLength(ch, size);
                  ch.force(true);
                  return new Received(size, received);
                } else {
                  String message = new String(payload, StandardCharsets.US_ASCII);
                  throw new DiskException(
                      ErrorCode.ImageInUse, "the source node refused to go on: " + shown(message));
                }
              }
              default -> throw bad("it has an unknown record type " + type);
            }
          }
        }
      }
    } catch (EOFException e) {
      throw new DiskException(
          ErrorCode.TransferFailed,
          "the clone's source stream ended early ("
              + received
              + " bytes received): nothing was published; the clone is retried",
          e);
    } catch (IOException e) {
      throw Io.wrap(e, "fetching the clone's source");
    }
  }

  /** What is left of a window's room after a record's next {@code bytes}; refused past its end. */
  private static long fits(long room, long bytes) {
    if (bytes > room) throw bad("a record runs past the end of its window");
    return room - bytes;
  }

  /**
   * The payload of the trailer whose type byte was just read: it must be where the window's length
   * puts it, its padding zeros, and the window must end with it.
   */
  private static byte[] trailer(InputStream in, long room) throws IOException {
    if (room != 0) throw bad("its window ends " + room + " bytes before the length it declared");
    byte[] t = new byte[TransferFormat.TRAILER_BYTES - 1];
    new DataInputStream(in).readFully(t);
    int n = ((t[0] & 0xff) << 8) | (t[1] & 0xff);
    if (n > t.length - 2) throw bad("its window's last record is malformed");
    for (int i = 2 + n; i < t.length; i++) {
      if (t[i] != 0) throw bad("its window's last record is malformed");
    }
    if (in.read() != -1) throw bad("a window runs past the length it declared");
    return Arrays.copyOfRange(t, 2, 2 + n);
  }

  /**
   * Extends the file to its apparent size through the descriptor it was created with (never by name
   * again): a trailing hole ends in one written zero byte, as cp --sparse=always ends a sparse
   * copy.
   */
  private static void setLength(FileChannel ch, long size) throws IOException {
    if (size > 0 && ch.size() < size) ch.write(ByteBuffer.wrap(new byte[1]), size - 1);
  }

  /**
   * The source's own words, as they go into the tenant's status: one line of printable text, at
   * most {@link #MAX_SHOWN} characters (the peer chose them, up to 64 KiB).
   */
  public static String shown(String peerText) {
    String line = peerText.replaceAll("[^\\x20-\\x7e]", "?");
    return line.length() > MAX_SHOWN ? line.substring(0, MAX_SHOWN) + "..." : line;
  }

  static final int MAX_SHOWN = 400;

  private static DiskException bad(String what) {
    return new DiskException(
        ErrorCode.TransferFailed,
        "the clone's source stream is malformed ("
            + what
            + "): nothing was published; the clone is retried");
  }
}
