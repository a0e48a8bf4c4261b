package io.xenvbd.disk;

import java.io.FilterInputStream;
import java.io.IOException;
import java.io.InputStream;

/** Fails once more than {@code cap} bytes were read: a download may not fill the images root. */
final class CappedInputStream extends FilterInputStream {
  static final class TooLarge extends IOException {
    TooLarge() {
      super("download exceeds its size cap");
    }
  }

  private final long cap;
  private long count;

  CappedInputStream(InputStream in, long cap) {
    super(in);
    this.cap = cap;
  }

  @Override
  public int read() throws IOException {
    int b = super.read();
    if (b >= 0 && ++count > cap) throw new TooLarge();
    return b;
  }

  @Override
  public int read(byte[] b, int off, int len) throws IOException {
    if (Thread.currentThread().isInterrupted()) throw new java.io.InterruptedIOException("download interrupted");
    int n = super.read(b, off, len);
    if (n > 0 && (count += n) > cap) throw new TooLarge();
    return n;
  }
}
