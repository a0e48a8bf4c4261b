package io.xenvbd.protocol;

/** The {@code code} values of agent errors ({@code {"code": ..., "message": ...}}). */
public final class ErrorCodes {
  private ErrorCodes() {}

  public static final String NO_SPACE = "NoSpace";
  public static final String LOOP_DEVICES_EXHAUSTED = "LoopDevicesExhausted";
  public static final String SOURCE_NOT_ALLOWED = "SourceNotAllowed";
  public static final String TOOL_MISSING = "ToolMissing";
  public static final String IMAGE_IN_USE = "ImageInUse";
  public static final String COMMAND_FAILED = "CommandFailed";
  public static final String INVALID_REQUEST = "InvalidRequest";
  public static final String NOT_OWNER = "NotOwner";
  public static final String NOT_FOUND = "NotFound";
  public static final String SHRINK_REFUSED = "ShrinkRefused";

  /**
   * A clone streamed from another node could not be fetched, or what arrived did not match its
   * checksum.
   */
  public static final String TRANSFER_FAILED = "TransferFailed";

  public static final String UNAUTHORIZED = "Unauthorized";

  /** HTTP 405: the path exists, the method does not. */
  public static final String METHOD_NOT_ALLOWED = "MethodNotAllowed";

  /** HTTP 413: a body over the agent's limit ({@link PutDiskRequest#MAX_BODY_BYTES}). */
  public static final String PAYLOAD_TOO_LARGE = "PayloadTooLarge";

  public static final String INTERNAL = "Internal";
  public static final String UNREACHABLE = "Unreachable";
  public static final String INTERRUPTED = "Interrupted";

  /** The agent's API threads and queue are full: try again shortly (HTTP 503). */
  public static final String BUSY = "Busy";

  /** An operation ran past its deadline and was stopped, nothing published. */
  public static final String DEADLINE_EXCEEDED = "DeadlineExceeded";

  /**
   * The caller announced a protocol version older than the agent's minimum (HTTP 426): upgrade the
   * operator.
   */
  public static final String OPERATOR_TOO_OLD = "OperatorTooOld";
}
