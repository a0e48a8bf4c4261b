package io.xenvbd.protocol;

import java.util.Optional;

/**
 * The version of the agent protocol each end speaks. The operator sends its version in the
 * {@link #HEADER} request header; the agent announces its own in {@code GET /v1/node}
 * ({@link NodeInfo#protocolVersion()}). An agent refuses a request whose announced version is below
 * its {@link #MIN_SUPPORTED} with HTTP 426 and code {@link ErrorCodes#OPERATOR_TOO_OLD}.
 */
public final class Protocol {
  private Protocol() {}

  /** The version this build speaks. 1: the unversioned wire (no header, no announcement); 2: both ends announce. */
  public static final int VERSION = 2;
  /** The oldest version this build still serves and talks to. */
  public static final int MIN_SUPPORTED = 1;
  /** The request header that carries the operator's version, e.g. {@code X-Xenvbd-Protocol: 2}. */
  public static final String HEADER = "X-Xenvbd-Protocol";

  /**
   * The version a request header announces: empty when there is none (a caller from before
   * versioning, or a person with curl), and an IllegalArgumentException when it is not a number.
   */
  public static Optional<Integer> parse(String header) {
    if (header == null || header.isBlank()) return Optional.empty();
    try {
      return Optional.of(Integer.parseInt(header.strip()));
    } catch (NumberFormatException e) {
      throw new IllegalArgumentException(HEADER + " '" + header + "' is not a number: send the protocol version"
          + " as a decimal integer, e.g. " + HEADER + ": " + VERSION);
    }
  }
}
