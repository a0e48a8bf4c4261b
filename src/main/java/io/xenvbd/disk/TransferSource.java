package io.xenvbd.disk;

import java.io.DataOutputStream;
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
import java.util.ArrayList;
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

  private record Extent(long start, long end) {}

  private record Stamp(Object inode, long size, FileTime mtime, FileTime ctime) {}

  private final Path image;
  private final long size;
  private final String filesystem;
  private final List<Extent> extents;
  private final long dataBytes;
  private final FileLocks.Held lock;
  private final LoopDeviceTable loops;
  private final MountTable mounts;
  private final Stamp stamp;
  private final MessageDigest digest;
  private int extent;
  private long position;
  private boolean headerSent;
  private boolean over;

  TransferSource(
      Path image,
      String filesystem,
      FileLocks.Held lock,
      LoopDeviceTable loops,
      MountTable mounts,
      CommandRunner runner) {
    this.image = image;
    this.filesystem = filesystem;
    this.lock = lock;
    this.loops = loops;
    this.mounts = mounts;
    Guards.refuseInUse(loops, mounts, image, "stream");
    this.stamp = settled(image);
    this.size = stamp.size();
    this.extents = extents(runner, image, size);
    this.dataBytes = extents.stream().mapToLong(e -> e.end() - e.start()).sum();
    this.digest = TransferFormat.digest(size);
    this.position = extents.isEmpty() ? 0 : extents.get(0).start();
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
   * Writes the next window: the header first, then D records until {@code maxBytes} of data were
   * sent or {@code until} passed, then N with {@code next.get()}, E with the digest, or X when the
   * image changed or is held.
   */
  public void writeWindow(OutputStream raw, long maxBytes, Instant until, Supplier<String> next)
      throws IOException {
    DataOutputStream out = new DataOutputStream(raw);
    if (!headerSent) {
      byte[] fs = filesystem.getBytes(StandardCharsets.US_ASCII);
      out.writeByte(TransferFormat.HEADER);
      out.writeLong(size);
      out.writeLong(dataBytes);
      out.writeByte(fs.length);
      out.write(fs);
      headerSent = true;
    }
    long sent = 0;
    ByteBuffer buffer = ByteBuffer.allocate(TransferFormat.CHUNK_BYTES);
    try (FileChannel ch =
        FileChannel.open(image, StandardOpenOption.READ, LinkOption.NOFOLLOW_LINKS)) {
      while (extent < extents.size() && sent < maxBytes && Instant.now().isBefore(until)) {
        Extent e = extents.get(extent);
        int length = (int) Math.min(TransferFormat.CHUNK_BYTES, e.end() - position);
        buffer.clear().limit(length);
        while (buffer.hasRemaining()) {
          if (ch.read(buffer, position + buffer.position()) < 0)
            break; // shorter than stamped: caught below
        }
        int got = buffer.position();
        if (got > 0) {
          out.writeByte(TransferFormat.DATA);
          out.writeLong(position);
          out.writeInt(got);
          out.write(buffer.array(), 0, got);
          TransferFormat.digestRecord(digest, position, got);
          digest.update(buffer.array(), 0, got);
        }
        sent += got;
        position += length;
        if (got < length || position >= e.end()) {
          extent++;
          if (extent < extents.size()) position = extents.get(extent).start();
        }
      }
    }
    String changed = changed();
    if (changed != null) {
      byte[] message = changed.getBytes(StandardCharsets.UTF_8);
      out.writeByte(TransferFormat.REFUSED);
      out.writeShort(message.length);
      out.write(message);
      over = true;
    } else if (extent < extents.size()) {
      byte[] credential = next.get().getBytes(StandardCharsets.US_ASCII);
      out.writeByte(TransferFormat.NEXT);
      out.writeByte(credential.length);
      out.write(credential);
    } else {
      out.writeByte(TransferFormat.END);
      out.write(digest.digest());
      over = true;
    }
    out.flush();
  }

  /** Why the copy must not be trusted, or null. */
  private String changed() {
    try {
      Guards.refuseInUse(loops, mounts, image, "stream");
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

  /**
   * The allocated extents, from SEEK_DATA/SEEK_HOLE as xfs_io's seek command reports them (any
   * filesystem).
   */
  private static List<Extent> extents(CommandRunner runner, Path image, long size) {
    String out = runner.run("xfs_io", "-r", "-c", "seek -a -r 0", image.toString()).stdout();
    List<Extent> list = new ArrayList<>();
    long dataStart = -1;
    for (String line : out.split("\n")) {
      String[] f = line.strip().split("\\s+");
      if (f.length != 2 || !(f[0].equals("DATA") || f[0].equals("HOLE"))) continue;
      long at = Long.parseLong(f[1]);
      if (f[0].equals("DATA")) {
        dataStart = at;
      } else if (dataStart >= 0) {
        list.add(new Extent(dataStart, Math.min(at, size)));
        dataStart = -1;
      }
    }
    if (dataStart >= 0 && dataStart < size) list.add(new Extent(dataStart, size));
    return list;
  }

  @Override
  public void close() {
    lock.close();
  }
}
