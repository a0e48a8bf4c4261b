package io.xenvbd.protocol;

import io.xenvbd.api.Reasons;
import java.net.ConnectException;

/** The agent could not be reached at all (connection refused, timeout, TLS failure). */
public class AgentUnreachableException extends AgentException {
  public AgentUnreachableException(String endpoint, Throwable cause) {
    super(
        ErrorCodes.UNREACHABLE,
        0,
        "agent at " + endpoint + " is unreachable: " + reason(cause),
        cause);
  }

  /** Not called at all, for a reason {@code message} states in full. */
  public AgentUnreachableException(String message) {
    super(ErrorCodes.UNREACHABLE, 0, message);
  }

  /** The condition reason a disk shows while its agent cannot be reached this way. */
  public String reason() {
    return Reasons.NODE_UNREACHABLE;
  }

  /** The JDK's ConnectException carries no message: say what it means rather than "null". */
  static String reason(Throwable cause) {
    if (cause.getMessage() != null) return cause.getMessage();
    return cause instanceof ConnectException
        ? "connection refused"
        : cause.getClass().getSimpleName();
  }
}
