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

/**
 * Receives a {@link TransferFormat} stream into a new file and checks it. Everything is bounded by
 * what the receiver was told before the first byte: the image may be at most {@code maxSize} bytes
 * and must have the expected filesystem; no record writes past the size the header declared,
 * offsets only grow, and every window must carry data. Only the D records are written (the rest
 * stays holes). Whatever went wrong the caller removes the file: it is never published unless the
 * digest matched.
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
      while (true) {
        Io.checkInterrupted("fetching the next window of the clone's source");
        boolean data = false;
        try (DataInputStream in = new DataInputStream(windows.open(credential))) {
          credential = null;
          while (credential == null) {
            int type = in.readUnsignedByte();
            if (size < 0 && type != TransferFormat.HEADER)
              throw bad("it does not start with a header");
            switch (type) {
              case TransferFormat.HEADER -> {
                if (size >= 0) throw bad("it has a second header");
                size = in.readLong();
                total = in.readLong();
                String fs =
                    new String(in.readNBytes(in.readUnsignedByte()), StandardCharsets.US_ASCII);
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
                long offset = in.readLong();
                int length = in.readInt();
                if (length <= 0
                    || length > TransferFormat.CHUNK_BYTES
                    || offset < next
                    || offset > size - length) {
                  throw bad(
                      "a record of "
                          + length
                          + " bytes at offset "
                          + offset
                          + " lies outside the declared "
                          + size
                          + " bytes or overlaps the one before");
                }
                in.readFully(chunk, 0, length);
                TransferFormat.digestRecord(digest, offset, length);
                digest.update(chunk, 0, length);
                ByteBuffer b = ByteBuffer.wrap(chunk, 0, length);
                while (b.hasRemaining()) ch.write(b, offset + b.position());
                next = offset + length;
                received += length;
                data = true;
                progress.onProgress("Transfer", received, Math.max(total, received), 0);
              }
              case TransferFormat.NEXT -> {
                String c =
                    new String(in.readNBytes(in.readUnsignedByte()), StandardCharsets.US_ASCII);
                if (!TransferFormat.CREDENTIAL.matcher(c).matches())
                  throw bad("its continuation credential is malformed");
                if (!data) throw bad("a window carried no data");
                credential = c;
              }
              case TransferFormat.END -> {
                byte[] sent = in.readNBytes(32);
                if (sent.length != 32 || !MessageDigest.isEqual(sent, digest.digest())) {
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
              }
              case TransferFormat.REFUSED -> {
                String message =
                    new String(in.readNBytes(in.readUnsignedShort()), StandardCharsets.UTF_8);
                throw new DiskException(
                    ErrorCode.ImageInUse, "the source node refused to go on: " + shown(message));
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
