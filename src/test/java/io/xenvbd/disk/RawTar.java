package io.xenvbd.disk;

import java.io.ByteArrayOutputStream;
import java.io.InputStream;
import java.nio.charset.StandardCharsets;
import java.util.Arrays;

/** Tar archives written byte by byte: the malformed and hostile ones no tar writer makes. */
final class RawTar {
  static final String USTAR = "ustar\u000000";
  static final String GNU = "ustar  \u0000";

  private final ByteArrayOutputStream out = new ByteArrayOutputStream();

  /**
   * A header with a valid checksum; sizes of 8 GiB and more in base-256, as GNU tar writes them.
   */
  static byte[] header(String name, char type, long size, String link, String magic) {
    byte[] h = new byte[512];
    put(h, 0, name.getBytes(StandardCharsets.UTF_8));
    put(h, 100, "0000644\0".getBytes(StandardCharsets.US_ASCII));
    put(h, 108, "0000000\0".getBytes(StandardCharsets.US_ASCII));
    put(h, 116, "0000000\0".getBytes(StandardCharsets.US_ASCII));
    if (size < 077777777777L) {
      put(h, 124, String.format("%011o\0", size).getBytes(StandardCharsets.US_ASCII));
    } else {
      h[124] = (byte) 0x80;
      for (int i = 0; i < 8; i++) h[135 - i] = (byte) (size >>> (8 * i));
    }
    put(h, 136, "00000000000\0".getBytes(StandardCharsets.US_ASCII));
    h[156] = (byte) type;
    put(h, 157, link.getBytes(StandardCharsets.UTF_8));
    put(h, 257, magic.getBytes(StandardCharsets.US_ASCII));
    return checksummed(h);
  }

  static byte[] header(String name, char type, long size) {
    return header(name, type, size, "", USTAR);
  }

  /** Recomputes the checksum after a test changed a header's bytes. */
  static byte[] checksummed(byte[] h) {
    Arrays.fill(h, 148, 156, (byte) ' ');
    long sum = 0;
    for (byte b : h) sum += b & 0xff;
    put(h, 148, String.format("%06o\0 ", sum).getBytes(StandardCharsets.US_ASCII));
    return h;
  }

  private static void put(byte[] h, int at, byte[] value) {
    System.arraycopy(value, 0, h, at, value.length);
  }

  RawTar raw(byte[] bytes) {
    out.writeBytes(bytes);
    return this;
  }

  /** A header and its data, padded to 512 bytes. */
  RawTar entry(byte[] header, byte[] data) {
    out.writeBytes(header);
    out.writeBytes(data);
    out.writeBytes(new byte[(512 - data.length % 512) % 512]);
    return this;
  }

  RawTar file(String name, String content) {
    byte[] data = content.getBytes(StandardCharsets.UTF_8);
    return entry(header(name, '0', data.length), data);
  }

  /** A GNU long name ('L') or long link name ('K') record. */
  RawTar gnuLong(char type, String value) {
    byte[] data = (value + "\0").getBytes(StandardCharsets.UTF_8);
    return entry(header("././@LongLink", type, data.length, "", GNU), data);
  }

  /** A PAX extended ('x') or global ('g') header with "key=value" records. */
  RawTar pax(char type, String... keyValues) {
    byte[] data = paxRecords(keyValues);
    return entry(header("PaxHeaders/x", type, data.length), data);
  }

  static byte[] paxRecords(String... keyValues) {
    StringBuilder all = new StringBuilder();
    for (String kv : keyValues) {
      String body = " " + kv + "\n";
      int len = body.getBytes(StandardCharsets.UTF_8).length;
      int n = len + 1;
      while (Integer.toString(n).length() + len != n) n++;
      all.append(n).append(body);
    }
    return all.toString().getBytes(StandardCharsets.UTF_8);
  }

  /**
   * An old GNU sparse member ('S'): four chunks {offset, length} in its header, the rest in
   * extension records of 21, then the chunks' data (bytes of 'x').
   */
  RawTar oldGnuSparse(String name, long realSize, long[][] chunks) {
    long stored = 0;
    for (long[] c : chunks) stored += c[1];
    byte[] h = header(name, 'S', stored, "", GNU);
    int i = 0;
    for (; i < Math.min(4, chunks.length); i++) sparseSlot(h, 386 + 24 * i, chunks[i]);
    h[482] = (byte) (chunks.length > 4 ? 1 : 0);
    put(h, 483, String.format("%011o\0", realSize).getBytes(StandardCharsets.US_ASCII));
    out.writeBytes(checksummed(h));
    while (i < chunks.length) {
      byte[] ext = new byte[512];
      for (int slot = 0; slot < 21 && i < chunks.length; slot++, i++)
        sparseSlot(ext, 24 * slot, chunks[i]);
      ext[504] = (byte) (i < chunks.length ? 1 : 0);
      out.writeBytes(ext);
    }
    byte[] data = new byte[(int) stored];
    Arrays.fill(data, (byte) 'x');
    return entry(new byte[0], data);
  }

  private static void sparseSlot(byte[] h, int at, long[] chunk) {
    put(
        h,
        at,
        String.format("%011o\0%011o\0", chunk[0], chunk[1]).getBytes(StandardCharsets.US_ASCII));
  }

  /** The archive so far, with its end-of-archive marker. */
  byte[] end() {
    out.writeBytes(new byte[1024]);
    return out.toByteArray();
  }

  byte[] unterminated() {
    return out.toByteArray();
  }

  /** The given bytes, then {@code pattern} repeated without end; counts what a reader took. */
  static final class Endless extends InputStream {
    private final byte[] prefix;
    private final byte[] pattern;
    long consumed;

    Endless(byte[] prefix, String pattern) {
      this.prefix = prefix;
      this.pattern = pattern.getBytes(StandardCharsets.US_ASCII);
    }

    @Override
    public int read() {
      byte b = at(consumed++);
      return b & 0xff;
    }

    @Override
    public int read(byte[] b, int off, int len) {
      for (int i = 0; i < len; i++) b[off + i] = at(consumed++);
      return len;
    }

    private byte at(long i) {
      return i < prefix.length
          ? prefix[(int) i]
          : pattern[(int) ((i - prefix.length) % pattern.length)];
    }
  }
}
