package io.xenvbd.disk;

/**
 * Kinds of disk failures, the engine's own vocabulary. The agent answers each with the protocol's
 * code of the same name ({@code agent/ApiError.wireCode}, checked by {@code ApiErrorTest}).
 */
public enum ErrorCode {
  NoSpace,
  LoopDevicesExhausted,
  SourceNotAllowed,
  ToolMissing,
  ImageInUse,
  CommandFailed,
  InvalidRequest,
  NotOwner,
  NotFound,
  ShrinkRefused,
  Interrupted,
  TransferFailed
}
