package io.xenvbd.protocol;

/**
 * The agent answered with an error: {@code code} is its machine-readable reason (see {@link
 * ErrorCodes}).
 */
public class AgentException extends RuntimeException {
  private final String code;
  private final int httpStatus;

  public AgentException(String code, int httpStatus, String message) {
    super(message);
    this.code = code;
    this.httpStatus = httpStatus;
  }

  public AgentException(String code, int httpStatus, String message, Throwable cause) {
    super(message, cause);
    this.code = code;
    this.httpStatus = httpStatus;
  }

  public String code() {
    return code;
  }

  public int httpStatus() {
    return httpStatus;
  }
}
