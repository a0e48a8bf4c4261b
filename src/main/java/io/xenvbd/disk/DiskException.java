package io.xenvbd.disk;

/**
 * A disk failure with a code the agent maps to its error body and a message that says what to
 * change.
 */
public class DiskException extends RuntimeException {
  private final ErrorCode code;

  public DiskException(ErrorCode code, String message) {
    super(message);
    this.code = code;
  }

  public DiskException(ErrorCode code, String message, Throwable cause) {
    super(message, cause);
    this.code = code;
  }

  public ErrorCode code() {
    return code;
  }

  static DiskException invalid(String message) {
    return new DiskException(ErrorCode.InvalidRequest, message);
  }
}
