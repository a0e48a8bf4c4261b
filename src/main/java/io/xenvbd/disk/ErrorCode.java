package io.xenvbd.disk;

/** Kinds of disk failures; {@code name()} equals the matching {@link io.xenvbd.protocol.ErrorCodes} constant. */
public enum ErrorCode {
  NoSpace, LoopDevicesExhausted, SourceNotAllowed, ToolMissing, ImageInUse,
  CommandFailed, InvalidRequest, NotOwner, NotFound, ShrinkRefused, Interrupted, TransferFailed
}
