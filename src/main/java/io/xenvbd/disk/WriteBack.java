package io.xenvbd.disk;

import java.nio.file.Path;
import java.util.List;
import java.util.concurrent.atomic.AtomicBoolean;
import java.util.concurrent.locks.LockSupport;

/**
 * The write-out of a loop-mounted image while it is being populated: {@code sync -f <mnt>} again
 * and again on its own thread, so that the data a copy has written reaches the image file while the
 * copy goes on. The kernel's own flusher starts only after 30 s or once a tenth of dom0's memory is
 * dirty, so without this the whole write-out would wait for the build's final {@code sync -f}. No
 * setting of the kernel or of the loop device is changed: nothing outlives the build.
 *
 * <p>{@link #close} stops it and waits until its last {@code sync} has ended (a running sync keeps
 * the mount busy), whatever happened; a sync that failed (an I/O error writing the image file, e.g.
 * a full images root) is thrown there, so it fails the build. Used in try-with-resources around the
 * populate, whose own error stays the one thrown (this one is added to it as suppressed).
 */
final class WriteBack implements AutoCloseable {
  private final CommandRunner runner;
  private final Path mnt;
  private final AtomicBoolean stop = new AtomicBoolean();
  private final Thread thread;
  private volatile DiskException failure;

  private WriteBack(CommandRunner runner, Path mnt) {
    this.runner = runner;
    this.mnt = mnt;
    this.thread = new Thread(this::loop, "xenvbd-writeback");
    thread.setDaemon(true);
  }

  /** Starts writing out the filesystem mounted on {@code mnt}. */
  static WriteBack start(CommandRunner runner, Path mnt) {
    WriteBack w = new WriteBack(runner, mnt);
    w.thread.start();
    return w;
  }

  private void loop() {
    try {
      do { // at least once: what the work wrote before it ended is being written out
        long started = System.nanoTime();
        CommandRunner.Result r =
            runner.exec(List.of("sync", "-f", mnt.toString()), runner.defaultTimeout(), null);
        if (!r.ok()) {
          failure = failed(CommandRunner.failure(r));
          return;
        }
        // Nothing left to write (the copy is between files, or an archive is still downloading):
        // no sync more often than every PAUSE, so an idle loop costs dom0 no CPU worth noting.
        long until = started + PAUSE_NANOS;
        while (!stop.get() && System.nanoTime() < until)
          LockSupport.parkNanos(until - System.nanoTime());
      } while (!stop.get());
    } catch (DiskException e) {
      if (!stop.get()) failure = failed(e);
    }
  }

  private DiskException failed(DiskException e) {
    return new DiskException(
        e.code(),
        "writing the image out through its loop device while it was populated failed: "
            + e.getMessage(),
        e);
  }

  /**
   * Stops the write-out and waits for its thread to end, to the end even if the calling thread is
   * interrupted meanwhile (its flag is kept); then throws what a sync of it reported, if any.
   */
  @Override
  public void close() {
    stop.set(true);
    LockSupport.unpark(thread); // ends a pause at once; a running sync is waited for
    boolean interrupted = false;
    while (thread.isAlive()) {
      try {
        thread.join();
      } catch (InterruptedException e) {
        interrupted = true;
      }
    }
    if (interrupted) Thread.currentThread().interrupt();
    if (failure != null) throw failure;
  }

  /** The shortest time from one sync's start to the next. */
  static final long PAUSE_NANOS = 10_000_000;
}
