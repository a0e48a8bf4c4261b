package io.xenvbd.agent;

import io.xenvbd.disk.DiskException;
import io.xenvbd.disk.ErrorCode;
import io.xenvbd.protocol.ErrorBody;
import io.xenvbd.protocol.ErrorCodes;

/**
 * An error answered to the client as {@code {code, message}} with an HTTP status. Never carries a
 * stack trace out.
 */
final class ApiError extends RuntimeException {
  final int status;
  final String code;

  ApiError(int status, String code, String message) {
    super(message, null, false, false);
    this.status = status;
    this.code = code;
  }

  ErrorBody body() {
    return new ErrorBody(code, getMessage());
  }

  static ApiError badRequest(String message) {
    return new ApiError(400, ErrorCodes.INVALID_REQUEST, message);
  }

  static ApiError of(DiskException e) {
    return new ApiError(status(e.code()), wireCode(e.code()), e.getMessage());
  }

  /**
   * The protocol's word for an engine error. The engine keeps its own enum (it knows nothing of
   * HTTP or the wire); this switch is where the two vocabularies meet, and the compiler makes it
   * name every engine code.
   */
  static String wireCode(ErrorCode code) {
    return switch (code) {
      case NoSpace -> ErrorCodes.NO_SPACE;
      case LoopDevicesExhausted -> ErrorCodes.LOOP_DEVICES_EXHAUSTED;
      case SourceNotAllowed -> ErrorCodes.SOURCE_NOT_ALLOWED;
      case ToolMissing -> ErrorCodes.TOOL_MISSING;
      case ImageInUse -> ErrorCodes.IMAGE_IN_USE;
      case CommandFailed -> ErrorCodes.COMMAND_FAILED;
      case InvalidRequest -> ErrorCodes.INVALID_REQUEST;
      case NotOwner -> ErrorCodes.NOT_OWNER;
      case NotFound -> ErrorCodes.NOT_FOUND;
      case ShrinkRefused -> ErrorCodes.SHRINK_REFUSED;
      case Interrupted -> ErrorCodes.INTERRUPTED;
      case TransferFailed -> ErrorCodes.TRANSFER_FAILED;
    };
  }

  /**
   * One table for every engine error. 409 means "the disk's current state forbids this" (another
   * owner, attached, shrink); 503 means "try again later"; 507 is WebDAV's Insufficient Storage,
   * the one status that says exactly that.
   */
  static int status(ErrorCode code) {
    return switch (code) {
      case InvalidRequest -> 400;
      case SourceNotAllowed -> 403;
      case NotFound -> 404;
      case NotOwner, ImageInUse, ShrinkRefused -> 409;
      case LoopDevicesExhausted, Interrupted -> 503;
      case NoSpace -> 507;
      case ToolMissing, CommandFailed -> 500;
      case TransferFailed -> 502;
    };
  }
}
