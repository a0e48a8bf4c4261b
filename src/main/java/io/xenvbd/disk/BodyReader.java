package io.xenvbd.disk;

import java.io.IOException;
import java.io.OutputStream;
import java.nio.ByteBuffer;
import java.util.List;
import java.util.concurrent.BlockingQueue;
import java.util.concurrent.Flow;
import java.util.concurrent.LinkedBlockingQueue;
import java.util.concurrent.TimeUnit;

/**
 * A response body read on the calling thread, one chunk requested at a time, with waits that end:
 * no chunk for {@code idle} or the deadline passed ({@link Stalled}), an interrupt (the JDK 17
 * client's own InputStream swallows interrupts and cannot be timed out, hence this), or more than
 * {@code maxBytes} ({@link TooLarge}, before the chunk that would pass the cap is written).
 * Whatever ends the read early cancels the body, which closes the connection.
 */
final class BodyReader implements Flow.Subscriber<List<ByteBuffer>> {
  /**
   * No byte for too long, or the overall deadline passed; the message is the reason ("no data for
   * 60 s").
   */
  static final class Stalled extends IOException {
    Stalled(String reason) {
      super(reason, null);
    }
  }

  static final class TooLarge extends IOException {
    TooLarge() {
      super("the body passed its size cap");
    }
  }

  private static final Object END = new Object();
  private final BlockingQueue<Object> items = new LinkedBlockingQueue<>();
  private Flow.Subscription subscription; // guarded by this
  private boolean cancelled; // guarded by this

  /** Subscribes to {@code body} and drops it unread (a redirect's or an error's body). */
  static void discard(Flow.Publisher<List<ByteBuffer>> body) {
    BodyReader r = new BodyReader();
    r.cancel();
    body.subscribe(r);
  }

  /**
   * Copies the body to {@code out}; returns the bytes written. {@code deadline} is a
   * System.nanoTime() instant.
   */
  static long copy(
      Flow.Publisher<List<ByteBuffer>> body,
      OutputStream out,
      long maxBytes,
      long idleNanos,
      long deadline,
      String idleText,
      String deadlineText)
      throws IOException, InterruptedException {
    BodyReader r = new BodyReader();
    body.subscribe(r);
    long total = 0;
    try {
      while (true) {
        long wait = Math.min(idleNanos, deadline - System.nanoTime());
        Object item = wait <= 0 ? null : r.items.poll(wait, TimeUnit.NANOSECONDS);
        if (item == null)
          throw new Stalled(deadline - System.nanoTime() <= 0 ? deadlineText : idleText);
        if (item == END) return total;
        if (item instanceof Throwable t)
          throw t instanceof IOException io ? io : new IOException(t);
        @SuppressWarnings("unchecked")
        List<ByteBuffer> chunk = (List<ByteBuffer>) item;
        for (ByteBuffer b : chunk) {
          if (total + b.remaining() > maxBytes) throw new TooLarge();
          total += b.remaining();
          write(out, b);
        }
        r.request();
      }
    } finally {
      r.cancel();
    }
  }

  private static void write(OutputStream out, ByteBuffer b) throws WriteFailed {
    try {
      if (b.hasArray()) {
        out.write(b.array(), b.arrayOffset() + b.position(), b.remaining());
      } else {
        byte[] copy = new byte[b.remaining()];
        b.get(copy);
        out.write(copy);
      }
    } catch (IOException e) {
      throw new WriteFailed(e);
    }
  }

  /** A failure writing the copy (not reading the body): the caller maps it as a local I/O error. */
  static final class WriteFailed extends IOException {
    WriteFailed(IOException cause) {
      super(cause);
    }

    @Override
    public synchronized IOException getCause() {
      return (IOException) super.getCause();
    }
  }

  @Override
  public void onSubscribe(Flow.Subscription s) {
    boolean drop;
    synchronized (this) {
      subscription = s;
      drop = cancelled;
    }
    if (drop) s.cancel();
    else s.request(1);
  }

  @Override
  public void onNext(List<ByteBuffer> item) {
    items.add(item);
  }

  @Override
  public void onError(Throwable t) {
    items.add(t);
  }

  @Override
  public void onComplete() {
    items.add(END);
  }

  private void request() {
    Flow.Subscription s;
    synchronized (this) {
      s = cancelled ? null : subscription;
    }
    if (s != null) s.request(1);
  }

  private void cancel() {
    Flow.Subscription s;
    synchronized (this) {
      cancelled = true;
      s = subscription;
    }
    if (s != null) s.cancel();
  }
}
