package io.xenvbd.disk;

import java.io.DataInputStream;
import java.io.EOFException;
import java.io.IOException;
import java.io.InputStream;
import java.io.InterruptedIOException;
import java.nio.ByteBuffer;
import java.nio.channels.FileChannel;
import java.nio.charset.StandardCharsets;
import java.nio.file.LinkOption;
import java.nio.file.Path;
import java.nio.file.StandardOpenOption;
import java.security.MessageDigest;
import java.util.Arrays;
import java.util.concurrent.ArrayBlockingQueue;
import java.util.concurrent.BlockingQueue;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.TimeUnit;

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
      Writer writer = new Writer(ch);
      try {
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
                  writer.begin(digest);
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
                  byte[] buffer = writer.buffer();
                  // the digest takes the record as sent, less its type byte
                  System.arraycopy(record, 1, buffer, 0, Writer.FIELDS);
                  in.readFully(buffer, Writer.FIELDS, count);
                  writer.submit(buffer, offset, count);
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
                    byte[] sum = writer.finish(); // every record hashed and written
                    if (payload.length != 32 || !MessageDigest.isEqual(payload, sum)) {
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
                        ErrorCode.ImageInUse,
                        "the source node refused to go on: " + shown(message));
                  }
                }
                default -> throw bad("it has an unknown record type " + type);
              }
            }
          }
        }
      } finally {
        writer.close();
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
   * Hashes and writes the D records, in order, in a thread of its own while the next one arrives:
   * at most {@link #IN_FLIGHT} records are held at once. The digest is read only after every record
   * was hashed and written ({@link #finish}); a failed write fails the next call.
   */
  private static final class Writer implements AutoCloseable {
    static final int IN_FLIGHT = 3;

    /** A buffer's first bytes: the record's offset and length, as the digest takes them. */
    static final int FIELDS = TransferFormat.RECORD_HEADER_BYTES - 1;

    private final FileChannel ch;
    private final BlockingQueue<byte[]> free = new ArrayBlockingQueue<>(IN_FLIGHT);
    private final ExecutorService thread =
        Executors.newSingleThreadExecutor(
            r -> {
              Thread t = new Thread(r, "xenvbd-transfer-write");
              t.setDaemon(true);
              return t;
            });
    private MessageDigest digest;
    private volatile IOException failed;

    Writer(FileChannel ch) {
      this.ch = ch;
      for (int i = 0; i < IN_FLIGHT; i++) free.add(new byte[FIELDS + TransferFormat.CHUNK_BYTES]);
    }

    /** Before the first record: the digest the records go into. */
    void begin(MessageDigest d) {
      digest = d;
    }

    /** A buffer for the next record, once one of those in flight was written. */
    byte[] buffer() throws IOException {
      check();
      try {
        return free.take();
      } catch (InterruptedException e) {
        Thread.currentThread().interrupt();
        throw new InterruptedIOException("interrupted while writing the clone's source");
      }
    }

    /** {@code buffer}: the record's offset and length ({@link #FIELDS}), then its bytes. */
    void submit(byte[] buffer, long offset, int count) {
      MessageDigest d = digest;
      thread.execute(
          () -> {
            try {
              if (failed == null) {
                d.update(buffer, 0, FIELDS + count);
                ByteBuffer b = ByteBuffer.wrap(buffer, FIELDS, count);
                while (b.hasRemaining()) ch.write(b, offset + b.position() - FIELDS);
              }
            } catch (IOException e) {
              failed = e;
            } finally {
              free.add(buffer);
            }
          });
    }

    /** Waits until every record was hashed and written: the digest. */
    byte[] finish() throws IOException {
      thread.shutdown();
      try {
        while (!thread.awaitTermination(1, TimeUnit.SECONDS)) {
          // a write still going on
        }
      } catch (InterruptedException e) {
        Thread.currentThread().interrupt();
        throw new InterruptedIOException("interrupted while writing the clone's source");
      }
      check();
      return digest.digest();
    }

    private void check() throws IOException {
      if (failed != null) throw failed;
    }

    /** Stops the thread (after its current write) before the file is closed. */
    @Override
    public void close() {
      thread.shutdownNow();
      try {
        thread.awaitTermination(1, TimeUnit.MINUTES);
      } catch (InterruptedException e) {
        Thread.currentThread().interrupt();
      }
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
