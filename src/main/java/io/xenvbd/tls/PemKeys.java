package io.xenvbd.tls;

import java.io.ByteArrayOutputStream;
import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.security.GeneralSecurityException;
import java.security.KeyFactory;
import java.security.PrivateKey;
import java.security.spec.PKCS8EncodedKeySpec;
import java.util.Arrays;
import java.util.Base64;
import java.util.List;
import java.util.Map;

/**
 * Unencrypted PEM private keys read with the JDK alone, so that the agent's image needs no
 * BouncyCastle: PKCS#8 ({@code PRIVATE KEY}), PKCS#1 RSA ({@code RSA PRIVATE KEY}, what Helm's
 * {@code genSignedCert} writes) and SEC1 EC ({@code EC PRIVATE KEY}, what {@code openssl ecparam
 * -genkey} writes). The JDK's KeyFactory reads only PKCS#8, so the two traditional forms are
 * wrapped in it: the same key bytes under an algorithm identifier.
 */
final class PemKeys {
  private PemKeys() {}

  private static final String RSA = "1.2.840.113549.1.1.1";
  private static final String EC = "1.2.840.10045.2.1";
  private static final Map<String, String> ALGORITHMS =
      Map.of(
          RSA,
          "RSA",
          "1.2.840.113549.1.1.10",
          "RSASSA-PSS",
          EC,
          "EC",
          "1.3.101.112",
          "Ed25519",
          "1.3.101.113",
          "Ed448",
          "1.2.840.10040.4.1",
          "DSA");

  /**
   * The first unencrypted private key in {@code pem}; other blocks (EC PARAMETERS, certificates)
   * are passed over.
   */
  static PrivateKey read(Path pem) throws IOException, GeneralSecurityException {
    return read(Files.readAllBytes(pem), pem);
  }

  /** The same for the content of {@code pem}, already read (a reloaded file). */
  static PrivateKey read(byte[] content, Path pem) throws GeneralSecurityException {
    List<String> lines = new String(content, StandardCharsets.US_ASCII).lines().toList();
    for (int i = 0; i < lines.size(); i++) {
      String line = lines.get(i).strip();
      if (!line.startsWith("-----BEGIN ") || !line.endsWith("-----")) continue;
      String label = line.substring(11, line.length() - 5);
      StringBuilder base64 = new StringBuilder();
      boolean encrypted = false;
      for (i++;
          i < lines.size() && !lines.get(i).strip().equals("-----END " + label + "-----");
          i++) {
        String body = lines.get(i).strip();
        if (body.contains(":"))
          encrypted |= body.startsWith("Proc-Type:") && body.contains("ENCRYPTED");
        else base64.append(body);
      }
      if (encrypted) continue;
      byte[] der;
      try {
        der = Base64.getMimeDecoder().decode(base64.toString());
      } catch (IllegalArgumentException e) {
        throw new GeneralSecurityException(
            "the " + label + " block of " + pem + " is not base64", e);
      }
      switch (label) {
        case "PRIVATE KEY" -> {
          return pkcs8(der);
        }
        case "RSA PRIVATE KEY" -> {
          return pkcs8(pkcs8Of(oid(RSA), new byte[] {0x05, 0x00}, der));
        }
        case "EC PRIVATE KEY" -> {
          return pkcs8(pkcs8Of(oid(EC), sec1Curve(der, pem), der));
        }
        default -> {}
      }
    }
    throw new GeneralSecurityException("no unencrypted private key found in " + pem);
  }

  /**
   * PrivateKeyInfo ::= SEQUENCE { version, AlgorithmIdentifier { OID, params }, OCTET STRING key }.
   */
  private static PrivateKey pkcs8(byte[] der) throws GeneralSecurityException {
    Der info = new Der(der).enter(0x30);
    info.next(0x02);
    Der algorithm = info.enter(0x30);
    String oid = dotted(algorithm.next(0x06));
    String name = ALGORITHMS.get(oid);
    if (name == null)
      throw new GeneralSecurityException(
          "the private key's algorithm " + oid + " is not RSA, EC, EdDSA or DSA");
    return KeyFactory.getInstance(name).generatePrivate(new PKCS8EncodedKeySpec(der));
  }

  /**
   * ECPrivateKey ::= SEQUENCE { version, OCTET STRING key, [0] curve OID OPTIONAL, [1] public key
   * OPTIONAL }.
   */
  private static byte[] sec1Curve(byte[] der, Path pem) throws GeneralSecurityException {
    Der key = new Der(der).enter(0x30);
    key.next(0x02);
    key.next(0x04);
    while (key.more()) {
      int tag = key.peek();
      if (tag == 0xa0) return key.enter(0xa0).whole(0x06);
      key.next(tag);
    }
    throw new GeneralSecurityException(
        "the EC private key in "
            + pem
            + " does not name its curve: write it as PKCS#8"
            + " (openssl pkcs8 -topk8 -nocrypt) or with its parameters");
  }

  private static byte[] pkcs8Of(byte[] algorithmOid, byte[] parameters, byte[] key) {
    byte[] algorithm = tlv(0x30, concat(algorithmOid, parameters));
    return tlv(0x30, concat(new byte[] {0x02, 0x01, 0x00}, algorithm, tlv(0x04, key)));
  }

  private static byte[] oid(String dotted) {
    String[] arcs = dotted.split("\\.");
    ByteArrayOutputStream out = new ByteArrayOutputStream();
    out.write(Integer.parseInt(arcs[0]) * 40 + Integer.parseInt(arcs[1]));
    for (int i = 2; i < arcs.length; i++) {
      long arc = Long.parseLong(arcs[i]);
      int groups = 1;
      while (arc >> (7 * groups) != 0) groups++;
      for (int g = groups - 1; g >= 0; g--)
        out.write((int) ((arc >> (7 * g)) & 0x7f) | (g > 0 ? 0x80 : 0));
    }
    return tlv(0x06, out.toByteArray());
  }

  private static String dotted(byte[] content) throws GeneralSecurityException {
    if (content.length == 0)
      throw new GeneralSecurityException("the private key has an empty algorithm identifier");
    StringBuilder s =
        new StringBuilder()
            .append((content[0] & 0xff) / 40)
            .append('.')
            .append((content[0] & 0xff) % 40);
    long arc = 0;
    for (int i = 1; i < content.length; i++) {
      arc = (arc << 7) | (content[i] & 0x7f);
      if ((content[i] & 0x80) == 0) {
        s.append('.').append(arc);
        arc = 0;
      }
    }
    return s.toString();
  }

  private static byte[] tlv(int tag, byte[] value) {
    ByteArrayOutputStream out = new ByteArrayOutputStream();
    out.write(tag);
    int n = value.length;
    if (n < 0x80) {
      out.write(n);
    } else {
      int bytes = n > 0xffffff ? 4 : n > 0xffff ? 3 : n > 0xff ? 2 : 1;
      out.write(0x80 | bytes);
      for (int b = bytes - 1; b >= 0; b--) out.write(n >> (8 * b));
    }
    out.write(value, 0, n);
    return out.toByteArray();
  }

  private static byte[] concat(byte[]... parts) {
    ByteArrayOutputStream out = new ByteArrayOutputStream();
    for (byte[] p : parts) out.write(p, 0, p.length);
    return out.toByteArray();
  }

  /** A cursor over DER elements with single-byte tags, all these structures use. */
  private static final class Der {
    private final byte[] b;
    private int pos;
    private final int end;

    Der(byte[] b) {
      this(b, 0, b.length);
    }

    private Der(byte[] b, int from, int end) {
      this.b = b;
      this.pos = from;
      this.end = end;
    }

    boolean more() {
      return pos < end;
    }

    int peek() throws GeneralSecurityException {
      if (pos >= end) throw malformed();
      return b[pos] & 0xff;
    }

    /** The content of the next element, which must have {@code tag}. */
    byte[] next(int tag) throws GeneralSecurityException {
      int[] span = span(tag);
      return Arrays.copyOfRange(b, span[0], span[1]);
    }

    /** The next element, tag and length included. */
    byte[] whole(int tag) throws GeneralSecurityException {
      int start = pos;
      int[] span = span(tag);
      return Arrays.copyOfRange(b, start, span[1]);
    }

    /** A cursor over the content of the next element, a constructed one with {@code tag}. */
    Der enter(int tag) throws GeneralSecurityException {
      int[] span = span(tag);
      return new Der(b, span[0], span[1]);
    }

    private int[] span(int tag) throws GeneralSecurityException {
      if (peek() != tag) throw malformed();
      pos++;
      if (pos >= end) throw malformed();
      int length = b[pos++] & 0xff;
      if (length >= 0x80) {
        int bytes = length & 0x7f;
        if (bytes == 0 || bytes > 3 || pos + bytes > end) throw malformed();
        length = 0;
        for (int i = 0; i < bytes; i++) length = (length << 8) | (b[pos++] & 0xff);
      }
      if (length > end - pos) throw malformed();
      int[] span = {pos, pos + length};
      pos += length;
      return span;
    }

    private static GeneralSecurityException malformed() {
      return new GeneralSecurityException("the private key is not well-formed DER");
    }
  }
}
