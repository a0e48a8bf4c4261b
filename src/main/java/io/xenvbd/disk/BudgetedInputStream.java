package io.xenvbd.disk;

import java.io.FilterInputStream;
import java.io.IOException;
import java.io.InputStream;

/**
 * Counts what a reader takes and stops it once it takes more than a budget (a DiskException, which
 * commons-compress does not catch); never lets mark/reset rewind behind the count's back, and tells
 * an I/O failure of the stream underneath from a refusal.
 */
final class BudgetedInputStream extends FilterInputStream {
  private long count;
  private long start;
  private long limit = Long.MAX_VALUE;
  private boolean failed;
  private final byte[] one = new byte[1];
  private byte[] scratch;

  BudgetedInputStream(InputStream in) {
    super(in);
  }

  long count() {
    return count;
  }

  boolean failed() {
    return failed;
  }

  /** From now on at most {@code bytes} more may be read, until {@link #unlimited()}. */
  void budget(long bytes) {
    start = count;
    limit = count + bytes;
  }

  void unlimited() {
    limit = Long.MAX_VALUE;
  }

  @Override
  public int read() throws IOException {
    return read(one, 0, 1) < 0 ? -1 : one[0] & 0xff;
  }

  @Override
  public int read(byte[] b, int off, int len) throws IOException {
    Io.checkInterrupted("checking the archive");
    if (len == 0) return 0;
    if (count >= limit) {
      throw DiskException.invalid(
          "archive headers from byte "
              + start
              + " on run past "
              + (limit - start)
              + " bytes without reaching an entry (an archive made to exhaust the agent's memory): refused;"
              + " repack the archive with GNU tar");
    }
    int n;
    try {
      n = in.read(b, off, (int) Math.min(len, limit - count));
    } catch (IOException e) {
      failed = true;
      throw e;
    }
    if (n > 0) count += n;
    return n;
  }

  /**
   * Skips by reading, so that the count stays exact whatever the stream underneath does with skip.
   */
  @Override
  public long skip(long n) throws IOException {
    if (scratch == null) scratch = new byte[64 * 1024];
    long done = 0;
    while (done < n) {
      int r = read(scratch, 0, (int) Math.min(scratch.length, n - done));
      if (r < 0) break;
      done += r;
    }
    return done;
  }

  @Override
  public boolean markSupported() {
    return false;
  }
}
