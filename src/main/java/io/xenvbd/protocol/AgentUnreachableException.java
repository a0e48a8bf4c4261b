package io.xenvbd.protocol;

/** The agent could not be reached at all (connection refused, timeout, TLS failure). */
public class AgentUnreachableException extends AgentException {
  public AgentUnreachableException(String endpoint, Throwable cause) {
    super(ErrorCodes.UNREACHABLE, 0, "agent at " + endpoint + " is unreachable: " + reason(cause), cause);
  }

  /** The JDK's ConnectException carries no message: say what it means rather than "null". */
  static String reason(Throwable cause) {
    if (cause.getMessage() != null) return cause.getMessage();
    return cause instanceof java.net.ConnectException ? "connection refused" : cause.getClass().getSimpleName();
  }
}
