package io.xenvbd.kube;

import java.nio.charset.StandardCharsets;
import java.security.MessageDigest;
import java.security.NoSuchAlgorithmException;
import java.security.SecureRandom;
import java.util.Base64;
import java.util.regex.Pattern;

/**
 * The one credential of the embedded API server: a random bearer token. Kept as its SHA-256 digest,
 * so that a comparison takes the same time whatever the presented token's length or content.
 */
public final class BearerToken {
  /**
   * Printable token characters (RFC 6750's b64token), long enough for 192 bits and safe to quote in
   * YAML.
   */
  private static final Pattern WELL_FORMED = Pattern.compile("[A-Za-z0-9._~+/=-]{32,512}");

  private static final SecureRandom RANDOM = new SecureRandom();

  private final String value;
  private final byte[] digest;

  private BearerToken(String value) {
    this.value = value;
    this.digest = sha256(value);
  }

  /** A fresh token: 256 random bits, base64url without padding (43 characters). */
  public static BearerToken generate() {
    byte[] bytes = new byte[32];
    RANDOM.nextBytes(bytes);
    return new BearerToken(Base64.getUrlEncoder().withoutPadding().encodeToString(bytes));
  }

  /** A token kept from an earlier start; it must be {@link #isWellFormed well formed}. */
  public static BearerToken of(String value) {
    if (!isWellFormed(value)) {
      throw new IllegalArgumentException(
          "the API token must be 32 to 512 characters of A-Z a-z 0-9 . _ ~ + / = -:"
              + " delete the token file to have a new one made");
    }
    return new BearerToken(value);
  }

  public static boolean isWellFormed(String value) {
    return value != null && WELL_FORMED.matcher(value).matches();
  }

  /** The secret itself: for a kubeconfig or a client, never for a log. */
  public String value() {
    return value;
  }

  /**
   * Whether an {@code Authorization} header carries this token, parsed as kube-apiserver does: the
   * scheme {@code Bearer} in any case, one space, the token up to the next space.
   */
  boolean matches(String authorization) {
    String presented = "";
    if (authorization != null) {
      String[] parts = authorization.strip().split(" ", 3);
      if (parts.length >= 2 && parts[0].equalsIgnoreCase("bearer")) presented = parts[1];
    }
    // Hashing first: equal lengths, so MessageDigest.isEqual's time says nothing about the token.
    return MessageDigest.isEqual(sha256(presented), digest);
  }

  private static byte[] sha256(String s) {
    try {
      return MessageDigest.getInstance("SHA-256").digest(s.getBytes(StandardCharsets.UTF_8));
    } catch (NoSuchAlgorithmException e) {
      throw new IllegalStateException("SHA-256 is missing from this JVM", e);
    }
  }

  /** Never prints the secret. */
  @Override
  public String toString() {
    return "BearerToken[redacted]";
  }
}
