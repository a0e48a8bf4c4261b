package io.xenvbd.disk;

import java.io.IOException;
import java.io.OutputStream;
import java.nio.ByteBuffer;
import java.nio.channels.FileChannel;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.LinkOption;
import java.nio.file.Path;
import java.nio.file.StandardOpenOption;
import java.nio.file.attribute.FileTime;
import java.security.MessageDigest;
import java.time.Instant;
import java.util.Arrays;
import java.util.List;
import java.util.Map;
import java.util.function.Supplier;

/**
 * One published image being streamed to another node ({@link TransferFormat}). It holds the image's
 * lock for its whole life, so this agent neither grows nor deletes it meanwhile; it refuses to
 * start when a loop device, a mount or a process holds the image, and it refuses to go on (an X
 * record, never an E) when, at the end of any window, the image's inode, size, mtime or ctime
 * changed or something holds it: the copy is never of a source written to during the copy. Not a
 * point-in-time snapshot: a source in use is refused, a source written to is detected.
 */
public final class TransferSource implements AutoCloseable {
  /**
   * Below this age an mtime may share its clock tick with a write still to come: wait it out first.
   */
  private static final long SETTLE_MILLIS = 50;

  private record Stamp(Object inode, long size, FileTime mtime, FileTime ctime) {}

  private final Path image;
  private final long size;
  private final String filesystem;
  private final List<Extents.Extent> extents;
  private final long dataBytes;
  private final FileLocks.Held lock;
  private final LoopDeviceTable loops;
  private final MountTable mounts;
  private final CloneCopies copies;
  private final AutoCloseable streaming;
  private final Stamp stamp;
  private final MessageDigest digest;
  private int extent;
  private long position;
  private boolean headerSent;
  private boolean over;
  private boolean torn;
  private long budget = TransferFormat.FIRST_WINDOW_BYTES;
  private Window planned;
  private byte[] buffer;

  TransferSource(
      Path image,
      String filesystem,
      FileLocks.Held lock,
      LoopDeviceTable loops,
      MountTable mounts,
      CommandRunner runner,
      CloneCopies copies) {
    this.image = image;
    this.filesystem = filesystem;
    this.lock = lock;
    this.loops = loops;
    this.mounts = mounts;
    this.copies = copies;
    // Local clones of the source may copy it meanwhile: they and this stream only read it.
    this.streaming = copies.streaming(image);
    try {
      Guards.refuseInUse(loops, mounts, image, "stream", copies.othersHolding(image));
      this.stamp = settled(image);
      this.size = stamp.size();
      // The report's xfs_io holds the image open for a moment: recorded as this agent's own
      // reader (under the lock of the clones' holder scans), so a clone copying it meanwhile is
      // not refused for it.
      this.extents =
          copies.copy(image, started -> Extents.of(runner, image, stamp.size(), started));
    } catch (RuntimeException e) {
      closeQuietly(streaming);
      throw e;
    }
    this.dataBytes = extents.stream().mapToLong(e -> e.end() - e.start()).sum();
    this.digest = TransferFormat.digest(size);
    this.position = extents.isEmpty() ? 0 : extents.get(0).start();
  }

  private static void closeQuietly(AutoCloseable c) {
    try {
      c.close();
    } catch (Exception ignored) {
      // the registry's handle does not fail
    }
  }

  public long sizeBytes() {
    return size;
  }

  public long dataBytes() {
    return dataBytes;
  }

  /** True once an E or X record was sent: nothing more to fetch. */
  public boolean over() {
    return over;
  }

  /**
   * A window as planned before its first byte: its length on the wire (the HTTP response's) and the
   * data bytes it carries.
   */
  public record Window(long length, long dataBytes) {}

  /**
   * Plans the next window: its data are the next extents' records up to this source's budget (from
   * the rate of the window before, {@link TransferFormat#WINDOW_SECONDS} of it, at most {@link
   * TransferFormat#WINDOW_BYTES}). Pass it to {@link #writeWindow} next.
   */
  public Window nextWindow() {
    long data = 0;
    long records = 0;
    int x = extent;
    long p = position;
    while (x < extents.size() && data < budget) {
      Extents.Extent e = extents.get(x);
      int length = (int) Math.min(TransferFormat.CHUNK_BYTES, e.end() - p);
      data += length;
      records++;
      p += length;
      if (p >= e.end()) {
        x++;
        if (x < extents.size()) p = extents.get(x).start();
      }
    }
    long length =
        9
            + (headerSent ? 0 : 18 + filesystem.length())
            + records * TransferFormat.RECORD_HEADER_BYTES
            + data
            + TransferFormat.TRAILER_BYTES;
    planned = new Window(length, data);
    return planned;
  }

  /**
   * Writes the window {@link #nextWindow} planned, exactly its length: a W record, the header first
   * of all, the planned D records, then N with {@code next.get()}, E with the digest, or X when the
   * image changed, shrank or is held. Each D record leaves in one write of its header and bytes,
   * read straight into the buffer it is sent from.
   */
  public void writeWindow(OutputStream out, Window window, Supplier<String> next)
      throws IOException {
    if (window != planned) throw new IllegalStateException("a window not planned by nextWindow()");
    planned = null;
    long started = System.nanoTime();
    ByteBuffer first = ByteBuffer.allocate(9 + 18 + 255);
    first.put(TransferFormat.WINDOW).putLong(window.length() - 9);
    if (!headerSent) {
      byte[] fs = filesystem.getBytes(StandardCharsets.US_ASCII);
      first.put(TransferFormat.HEADER).putLong(size).putLong(dataBytes).put((byte) fs.length);
      first.put(fs);
      headerSent = true;
    }
    out.write(first.array(), 0, first.position());
    if (buffer == null)
      buffer = new byte[TransferFormat.RECORD_HEADER_BYTES + TransferFormat.CHUNK_BYTES];
    long sent = 0;
    try (FileChannel ch =
        FileChannel.open(image, StandardOpenOption.READ, LinkOption.NOFOLLOW_LINKS)) {
      while (sent < window.dataBytes()) {
        Extents.Extent e = extents.get(extent);
        int length = (int) Math.min(TransferFormat.CHUNK_BYTES, e.end() - position);
        ByteBuffer data = ByteBuffer.wrap(buffer, TransferFormat.RECORD_HEADER_BYTES, length);
        while (data.hasRemaining()) {
          long at = position + data.position() - TransferFormat.RECORD_HEADER_BYTES;
          if (ch.read(data, at) < 0) {
            // shorter than stamped: the planned length is sent, in zeros, and the window refused
            torn = true;
            Arrays.fill(buffer, data.position(), data.limit(), (byte) 0);
            break;
          }
        }
        ByteBuffer.wrap(buffer, 0, TransferFormat.RECORD_HEADER_BYTES)
            .put(TransferFormat.DATA)
            .putLong(position)
            .putInt(length);
        out.write(buffer, 0, TransferFormat.RECORD_HEADER_BYTES + length);
        // the digest takes the record as sent, less its type byte
        digest.update(buffer, 1, TransferFormat.RECORD_HEADER_BYTES - 1 + length);
        sent += length;
        position += length;
        if (position >= e.end()) {
          extent++;
          if (extent < extents.size()) position = extents.get(extent).start();
        }
      }
    }
    ByteBuffer trailer = ByteBuffer.allocate(TransferFormat.TRAILER_BYTES);
    String changed = changed();
    if (changed == null && torn) {
      changed = "the source image " + image.getFileName() + " shrank during the copy";
    }
    if (changed != null) {
      byte[] message =
          changed.replaceAll("[^\\x20-\\x7e]", "?").getBytes(StandardCharsets.US_ASCII);
      int n = Math.min(message.length, TransferFormat.TRAILER_BYTES - 3);
      trailer.put(TransferFormat.REFUSED).putShort((short) n).put(message, 0, n);
      over = true;
    } else if (extent < extents.size()) {
      byte[] credential = next.get().getBytes(StandardCharsets.US_ASCII);
      trailer.put(TransferFormat.NEXT).putShort((short) credential.length).put(credential);
    } else {
      byte[] sha = digest.digest();
      trailer.put(TransferFormat.END).putShort((short) sha.length).put(sha);
      over = true;
    }
    out.write(trailer.array());
    out.flush();
    double seconds = Math.max(1e-3, (System.nanoTime() - started) / 1e9);
    budget =
        Math.max(
            TransferFormat.MIN_WINDOW_BYTES,
            Math.min(
                TransferFormat.WINDOW_BYTES,
                (long) (sent / seconds * TransferFormat.WINDOW_SECONDS)));
  }

  /** Why the copy must not be trusted, or null. */
  private String changed() {
    try {
      Guards.refuseInUse(loops, mounts, image, "stream", copies.othersHolding(image));
    } catch (DiskException e) {
      return "the source image came into use during the copy ("
          + e.getMessage()
          + "); the copy was abandoned";
    }
    Stamp now;
    try {
      now = stamp(image);
    } catch (DiskException e) {
      return "the source image went away during the copy";
    }
    return now.equals(stamp)
        ? null
        : "the source image "
            + image.getFileName()
            + " was written to during the copy"
            + " (its size, mtime or ctime changed); stop whatever writes to it and the clone is retried";
  }

  /** The image's stamp, once its mtime is old enough that any later write gets a later one. */
  private static Stamp settled(Path image) {
    for (int i = 0; i < 40; i++) {
      Stamp s = stamp(image);
      long age = Instant.now().toEpochMilli() - s.mtime().toMillis();
      if (age >= SETTLE_MILLIS) return s;
      try {
        Thread.sleep(SETTLE_MILLIS);
      } catch (InterruptedException e) {
        Thread.currentThread().interrupt();
        throw new DiskException(
            ErrorCode.Interrupted, "interrupted while waiting for the source image to settle");
      }
    }
    throw new DiskException(
        ErrorCode.ImageInUse,
        "the source image "
            + image
            + " is being written to all the time:"
            + " stop whatever writes to it and retry");
  }

  private static Stamp stamp(Path image) {
    try {
      Map<String, Object> a =
          Files.readAttributes(
              image, "unix:ino,size,lastModifiedTime,ctime", LinkOption.NOFOLLOW_LINKS);
      return new Stamp(
          a.get("ino"),
          (Long) a.get("size"),
          (FileTime) a.get("lastModifiedTime"),
          (FileTime) a.get("ctime"));
    } catch (IOException e) {
      throw Io.wrap(e, "reading the attributes of " + image);
    }
  }

  @Override
  public void close() {
    closeQuietly(streaming);
    lock.close();
  }
}
