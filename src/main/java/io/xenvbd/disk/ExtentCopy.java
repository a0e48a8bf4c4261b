package io.xenvbd.disk;

import java.io.IOException;
import java.io.RandomAccessFile;
import java.nio.ByteBuffer;
import java.nio.channels.FileChannel;
import java.nio.file.Files;
import java.nio.file.LinkOption;
import java.nio.file.Path;
import java.nio.file.StandardOpenOption;
import java.nio.file.attribute.BasicFileAttributes;
import java.nio.file.attribute.PosixFilePermissions;
import java.util.concurrent.ConcurrentLinkedQueue;
import java.util.function.Consumer;

/**
 * A clone's copy where the images root cannot share blocks (ext4): only the source's data extents
 * (SEEK_DATA/SEEK_HOLE, {@link Extents}), read through the page cache (a template's blocks stay
 * cached for the next clone) and written straight to the disk ({@code O_DIRECT}) from one reused
 * buffer; blocks of zeros inside them are left as holes, as {@code cp --sparse=always} leaves them.
 *
 * <p>Why not cp: in a fleet on this kind of node, cp's writes into fresh page-cache pages were the
 * largest single cost of the whole node (45 % of all CPU samples, {@code perf record -a}, most of
 * it in the kernel's copy into each new page), and the write-out of those pages waited for the
 * build's fsync. Written straight to the disk there is no page-cache copy to make and nothing left
 * to write out; the fsync after it writes only the file's metadata. Where the images root refuses
 * {@code O_DIRECT} the same copy is written through the page cache.
 *
 * <p>The source is the agent's own published image, which no process writes to while it is copied
 * ({@link CloneCopies}); the target a new file this copy creates (it fails if anything is there).
 */
final class ExtentCopy {
  /**
   * Alignment of every direct write (offset, length, buffer): a block of any disk and filesystem.
   */
  static final int BLOCK = 4096;

  private static final int CHUNK = 8 << 20;
  private static final ByteBuffer ZEROS = ByteBuffer.allocateDirect(BLOCK).asReadOnlyBuffer();

  /** Buffers of finished copies, reused: as many exist as copies ever ran at once. */
  private static final ConcurrentLinkedQueue<ByteBuffer> BUFFERS = new ConcurrentLinkedQueue<>();

  private ExtentCopy() {}

  /** What a copy wrote: the bytes of data, and whether they went straight to the disk. */
  record Copied(long dataBytes, boolean direct) {}

  /** Runs of data shorter than this are written through the page cache, longer ones directly. */
  static final int DIRECT_RUN = 1 << 20;

  /** Copies {@code source} to {@code target}, which must not exist; same size, same content. */
  static Copied copy(CommandRunner runner, Path source, Path target, Consumer<Process> started) {
    return copy(runner, source, target, started, true);
  }

  /**
   * {@code started} is told the one process this copy starts (its extent report, which holds the
   * source open), before anything else it does takes long; {@code tryDirect} false: through the
   * page cache (what a root without O_DIRECT gets).
   */
  static Copied copy(
      CommandRunner runner,
      Path source,
      Path target,
      Consumer<Process> started,
      boolean tryDirect) {
    long size;
    try {
      BasicFileAttributes a =
          Files.readAttributes(source, BasicFileAttributes.class, LinkOption.NOFOLLOW_LINKS);
      if (!a.isRegularFile())
        throw new DiskException(ErrorCode.CommandFailed, source + " is not a regular file");
      size = a.size();
      Files.createFile(
          target,
          PosixFilePermissions.asFileAttribute(PosixFilePermissions.fromString("rw-------")));
    } catch (IOException e) {
      throw Io.wrap(e, "creating " + target);
    }
    ByteBuffer buf = buffer();
    long[] written = {0};
    // The file was made just above (O_EXCL) in the root-only images root: opened again at once,
    // buffered for short runs and its size; the direct channel beside it takes the long runs.
    try (RandomAccessFile file = new RandomAccessFile(target.toFile(), "rw");
        FileChannel in =
            FileChannel.open(source, StandardOpenOption.READ, LinkOption.NOFOLLOW_LINKS);
        FileChannel direct = tryDirect ? direct(target) : null) {
      FileChannel buffered = file.getChannel();
      Extents.forEach(
          runner,
          source,
          size,
          started,
          e -> {
            try {
              written[0] += copy(in, direct != null ? direct : buffered, buffered, buf, e);
            } catch (IOException x) {
              throw Io.wrap(x, "copying " + source + " to " + target);
            }
          });
      // The last block may have been written whole past the end; a trailing hole has no write.
      file.setLength(size);
      return new Copied(written[0], direct != null);
    } catch (IOException e) {
      throw Io.wrap(e, "copying " + source + " to " + target);
    } finally {
      BUFFERS.offer(buf);
    }
  }

  /** The target opened for direct writes, or null where its filesystem refuses them (EINVAL). */
  private static FileChannel direct(Path target) {
    try {
      return FileChannel.open(
          target,
          StandardOpenOption.WRITE,
          LinkOption.NOFOLLOW_LINKS,
          com.sun.nio.file.ExtendedOpenOption.DIRECT);
    } catch (IOException | UnsupportedOperationException e) {
      return null;
    }
  }

  /**
   * One extent, a chunk at a time, whole blocks (its ends rounded out); returns bytes written. Runs
   * of non-zero blocks of at least {@link #DIRECT_RUN} go to {@code out}, shorter ones (a template
   * a guest wrote to every few blocks has hundreds of thousands) through {@code small}: one
   * synchronous direct write per 4 KiB block made such a copy 2.6× slower than through the cache.
   */
  private static long copy(
      FileChannel in, FileChannel out, FileChannel small, ByteBuffer buf, Extents.Extent e)
      throws IOException {
    long written = 0;
    long end = (e.end() + BLOCK - 1) / BLOCK * BLOCK;
    for (long pos = e.start() / BLOCK * BLOCK; pos < end; ) {
      int n = (int) Math.min(CHUNK, end - pos);
      buf.clear().limit(n);
      while (buf.hasRemaining()) {
        if (in.read(buf, pos + buf.position()) < 0) break; // past the source's end: zeros
      }
      while (buf.hasRemaining()) buf.put((byte) 0);
      int run = -1; // the first block of a run of non-zero blocks
      for (int b = 0; b <= n; b += BLOCK) {
        boolean zero = b == n || buf.slice(b, BLOCK).mismatch(ZEROS) < 0;
        if (!zero && run < 0) run = b;
        if (zero && run >= 0) {
          FileChannel to = b - run >= DIRECT_RUN ? out : small;
          buf.limit(b).position(run);
          while (buf.hasRemaining()) to.write(buf, pos + buf.position());
          written += b - run;
          buf.limit(n);
          run = -1;
        }
      }
      pos += n;
    }
    return written;
  }

  private static ByteBuffer buffer() {
    ByteBuffer b = BUFFERS.poll();
    return b != null ? b : ByteBuffer.allocateDirect(CHUNK + BLOCK).alignedSlice(BLOCK);
  }
}
