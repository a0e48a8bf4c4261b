package io.xenvbd.disk;

import java.io.IOException;
import java.lang.management.ManagementFactory;
import java.nio.ByteBuffer;
import java.nio.channels.FileChannel;
import java.nio.channels.FileLock;
import java.nio.channels.OverlappingFileLockException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.LinkOption;
import java.nio.file.Path;
import java.nio.file.StandardOpenOption;
import java.security.MessageDigest;
import java.security.NoSuchAlgorithmException;
import java.time.Instant;

/**
 * Locks that hold across processes (fcntl byte-range locks on one file under the images root,
 * released by the kernel when the holder dies): byte 0 for the whole root, so that two agents never
 * share it, and one byte per image, chosen by a hash of its namespace/name, for the length of any
 * operation on that image. The file also says which process holds the root.
 *
 * <p>The file is open only while a lock is held: closing a descriptor drops every fcntl lock the
 * process has on the file, so one descriptor serves all locks, and it is closed with the last one
 * (an engine that holds nothing keeps no file open on the root, which may be unmounted).
 */
final class FileLocks {
  static final String FILE = ".xenvbd.lock";

  private final Path root;
  private FileChannel channel;
  private int held;

  FileLocks(Path root) {
    this.root = root;
  }

  /** A held lock; closing it releases it. */
  final class Held implements AutoCloseable {
    private FileLock lock;

    private Held(FileLock lock) {
      this.lock = lock;
    }

    @Override
    public void close() {
      synchronized (FileLocks.this) {
        if (lock == null) return;
        try {
          if (lock.isValid()) lock.release();
        } catch (IOException ignored) {
          // closing the channel releases it in any case
        }
        lock = null;
        if (--held == 0) closeChannel();
      }
    }
  }

  /** The images root for this engine alone, or ImageInUse naming who has it. */
  synchronized Held root() {
    FileChannel ch = channel();
    FileLock lock = tryLock(ch, 0);
    if (lock == null) {
      if (held == 0) closeChannel();
      String who = read();
      throw new DiskException(
          ErrorCode.ImageInUse,
          "the images root "
              + root
              + " is in use by another agent ("
              + (who.isBlank() ? "unknown" : who)
              + "): stop that agent, or give this one its own --images-root");
    }
    try {
      String me =
          "pid "
              + ProcessHandle.current().pid()
              + " on "
              + ManagementFactory.getRuntimeMXBean().getName().replaceFirst("^\\d+@", "")
              + " since "
              + Instant.now();
      ch.truncate(0);
      ch.write(ByteBuffer.wrap(me.getBytes(StandardCharsets.UTF_8)), 0);
      ch.force(true);
    } catch (IOException e) {
      held++;
      new Held(lock).close();
      throw Io.wrap(e, "writing " + root.resolve(FILE));
    }
    held++;
    return new Held(lock);
  }

  /** The lock of one image; ImageInUse when another process (or engine) holds it. */
  synchronized Held image(String namespace, String name) {
    return lock(
        namespace + "/" + name,
        "another process (a second agent on this images root?) is"
            + " working on disk "
            + namespace
            + "/"
            + name
            + ": wait for it to finish, or stop it, and retry");
  }

  /**
   * The lock of a file an adoption takes from the import directory, keyed {@code "import//" +
   * file}, which no namespace/name spells (a name never starts with '/'); ImageInUse with {@code
   * busy} when another adoption holds it.
   */
  synchronized Held importFile(String file, String busy) {
    return lock("import//" + file, busy);
  }

  /** The lock of an image with the message for when another holds it. */
  synchronized Held image(String namespace, String name, String busy) {
    return lock(namespace + "/" + name, busy);
  }

  private Held lock(String key, String busy) {
    FileLock lock = tryLock(channel(), offset(key));
    if (lock == null) {
      if (held == 0) closeChannel();
      throw new DiskException(ErrorCode.ImageInUse, busy);
    }
    held++;
    return new Held(lock);
  }

  private void closeChannel() {
    if (channel == null) return;
    try {
      channel.close();
    } catch (IOException ignored) {
      // its locks are gone with it
    }
    channel = null;
  }

  private FileChannel channel() {
    if (channel != null) return channel;
    try {
      channel =
          FileChannel.open(
              root.resolve(FILE),
              StandardOpenOption.CREATE,
              StandardOpenOption.READ,
              StandardOpenOption.WRITE,
              LinkOption.NOFOLLOW_LINKS);
      Formatter.privateFile(root.resolve(FILE));
      return channel;
    } catch (IOException e) {
      throw Io.wrap(e, "opening the lock file " + root.resolve(FILE));
    }
  }

  private static FileLock tryLock(FileChannel ch, long position) {
    try {
      return ch.tryLock(position, 1, false);
    } catch (OverlappingFileLockException e) {
      return null; // this JVM holds it already: another engine on the same root
    } catch (IOException e) {
      throw Io.wrap(e, "locking " + FILE);
    }
  }

  private String read() {
    try {
      return Files.readString(root.resolve(FILE), StandardCharsets.UTF_8).strip();
    } catch (IOException e) {
      return "";
    }
  }

  /** The byte whose lock stands for the image. */
  static long offset(String namespace, String name) {
    return offset(namespace + "/" + name);
  }

  private static long offset(String key) {
    return 1 + (hash(key) & (Long.MAX_VALUE >>> 2));
  }

  private static long hash(String key) {
    try {
      return ByteBuffer.wrap(
              MessageDigest.getInstance("SHA-256").digest(key.getBytes(StandardCharsets.UTF_8)))
          .getLong();
    } catch (NoSuchAlgorithmException e) {
      throw new IllegalStateException(e);
    }
  }
}
