package io.xenvbd.disk;

import java.net.InetAddress;

/**
 * The addresses an archive download never goes to: dom0's own loopback, its link-local and private
 * networks, shared (CGNAT) and reserved space, multicast, broadcast and the unspecified address,
 * also when written as IPv4 inside IPv6 (mapped, compatible, NAT64, 6to4), and the prefixes of
 * translators and tunnels that lead into IPv4 networks dom0 may be on (local-use NAT64, Teredo).
 */
final class NonPublicAddress {
  private NonPublicAddress() {}

  /** What kind of non-public address {@code a} is ("loopback"), or null for a public one. */
  static String kind(InetAddress a) {
    byte[] b = a.getAddress();
    return b.length == 4 ? v4(b, 0) : v6(b);
  }

  private static String v4(byte[] b, int off) {
    int o0 = b[off] & 0xff;
    int o1 = b[off + 1] & 0xff;
    int o2 = b[off + 2] & 0xff;
    if (o0 == 0) return "unspecified (0.0.0.0/8)";
    if (o0 == 127) return "loopback";
    if (o0 == 10 || (o0 == 172 && (o1 & 0xf0) == 16) || (o0 == 192 && o1 == 168)) return "private";
    if (o0 == 100 && (o1 & 0xc0) == 64) return "shared CGNAT (100.64.0.0/10)";
    if (o0 == 169 && o1 == 254) return "link-local";
    if (o0 >= 224 && o0 <= 239) return "multicast";
    if (o0 >= 240)
      return o0 == 255 && o1 == 255 && o2 == 255 && (b[off + 3] & 0xff) == 255
          ? "broadcast"
          : "reserved (240.0.0.0/4)";
    if (o0 == 192 && o1 == 0 && o2 == 0) return "reserved (192.0.0.0/24)";
    if (o0 == 198 && (o1 & 0xfe) == 18) return "reserved (198.18.0.0/15)";
    if (o0 == 192 && o1 == 88 && o2 == 99) return "6to4 relay anycast (192.88.99.0/24)";
    return null;
  }

  private static String v6(byte[] b) {
    if (zero(b, 0, 10) && (b[10] & 0xff) == 0xff && (b[11] & 0xff) == 0xff)
      return embedded("IPv4-mapped", b, 12);
    if (zero(b, 0, 12)) {
      if (zero(b, 12, 15) && b[15] == 0) return "unspecified";
      if (zero(b, 12, 15) && b[15] == 1) return "loopback";
      return "IPv4-compatible (deprecated)";
    }
    if (b[0] == 0
        && b[1] == 0x64
        && (b[2] & 0xff) == 0xff
        && (b[3] & 0xff) == 0x9b
        && zero(b, 4, 12)) {
      return embedded("NAT64", b, 12);
    }
    // Where a translator of dom0's own network puts the IPv4 address in it is its choice (RFC
    // 8215 allows /48 to /96), so none is read: the whole prefix is dom0's network.
    if (b[0] == 0
        && b[1] == 0x64
        && (b[2] & 0xff) == 0xff
        && (b[3] & 0xff) == 0x9b
        && b[4] == 0
        && b[5] == 1) return "local-use NAT64 (64:ff9b:1::/48)";
    if (b[0] == 0x20 && b[1] == 0x02) return embedded("6to4", b, 2);
    // Teredo tunnels to an IPv4 server and client through a relay, which may be dom0's own.
    if (b[0] == 0x20 && b[1] == 0x01 && b[2] == 0 && b[3] == 0) return "Teredo (2001::/32)";
    if (b[0] == 1 && zero(b, 1, 8)) return "discard-only (100::/64)";
    int b0 = b[0] & 0xff;
    int b1 = b[1] & 0xff;
    if ((b0 & 0xfe) == 0xfc) return "private (fc00::/7)";
    if (b0 == 0xfe && (b1 & 0xc0) == 0x80) return "link-local";
    if (b0 == 0xfe && (b1 & 0xc0) == 0xc0) return "site-local";
    if (b0 == 0xff) return "multicast";
    return null;
  }

  private static String embedded(String how, byte[] b, int off) {
    String k = v4(b, off);
    return k == null ? null : how + " " + k;
  }

  private static boolean zero(byte[] b, int from, int to) {
    for (int i = from; i < to; i++) {
      if (b[i] != 0) return false;
    }
    return true;
  }
}
