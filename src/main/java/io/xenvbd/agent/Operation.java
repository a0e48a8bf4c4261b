package io.xenvbd.agent;

import io.xenvbd.api.Xen;
import io.xenvbd.disk.DiskEngine;
import io.xenvbd.disk.DiskRequest;
import io.xenvbd.disk.ImageInfo;
import io.xenvbd.disk.ProgressListener;
import io.xenvbd.protocol.DiskState;
import io.xenvbd.protocol.ErrorBody;
import java.nio.file.Path;
import java.time.Instant;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.Future;
import java.util.concurrent.atomic.AtomicBoolean;

/** One build or resize of one disk: its request, live progress, and how it ended. Lives in memory only. */
final class Operation implements ProgressListener {
  enum Kind { build, resize }

  final Kind kind;
  final DiskRequest request;
  final Path imagePath;
  final CompletableFuture<Void> finished = new CompletableFuture<>();
  private final AtomicBoolean claimed = new AtomicBoolean();
  private volatile Future<?> future;
  private volatile String stage = io.xenvbd.protocol.DiskState.STAGE_QUEUED;
  private volatile long bytesDone;
  private volatile long bytesTotal;
  private volatile int percent;
  private volatile long populatedBytes;
  private volatile ErrorBody error;
  private volatile Instant endedAt;

  Operation(Kind kind, DiskRequest request, Path imagePath) {
    this.kind = kind;
    this.request = request;
    this.imagePath = imagePath;
  }

  /** A request answered from the published image (nothing to do), kept so GET knows its spec. */
  static Operation confirmed(DiskRequest request, Path imagePath) {
    Operation op = new Operation(Kind.build, request, imagePath);
    op.claim();
    op.succeeded();
    return op;
  }

  @Override
  public void onProgress(String stage, long bytesDone, long bytesTotal, int percent) {
    this.stage = stage;
    this.bytesDone = bytesDone;
    this.bytesTotal = bytesTotal;
    this.percent = Math.max(this.percent, Math.min(100, percent));
    if ("Populate".equals(stage)) populatedBytes = Math.max(populatedBytes, bytesDone);
  }

  void submitted(Future<?> future) {
    this.future = future;
  }

  /** The worker calls this first; false when the operation was cancelled while queued. */
  boolean claim() {
    return claimed.compareAndSet(false, true);
  }

  /** Stops the operation: never starts when still queued, interrupted (the engine cleans up) when running. */
  void cancel() {
    if (claim()) finished.complete(null);
    Future<?> f = future;
    if (f != null) f.cancel(true);
  }

  void succeeded() {
    stage = null;
    percent = 100;
    endedAt = Instant.now();
    finished.complete(null);
  }

  void failed(ErrorBody error) {
    this.error = error;
    endedAt = Instant.now();
    finished.complete(null);
  }

  boolean running() {
    return !finished.isDone();
  }

  boolean isFailed() {
    return error != null;
  }

  ErrorBody error() {
    return error;
  }

  Instant endedAt() {
    return endedAt;
  }

  long populatedBytes() {
    return populatedBytes;
  }

  /** True when {@code other} asks for exactly what this operation was asked for. */
  boolean sameRequest(DiskRequest other) {
    return request.uid().equals(other.uid()) && request.sizeBytes() == other.sizeBytes()
        && request.specDigest().equals(other.specDigest());
  }

  /** What GET answers while it runs, or after it failed (with the image's figures when one exists). */
  DiskState state(ImageInfo image) {
    DiskState.Phase phase = isFailed() ? DiskState.Phase.Failed
        : kind == Kind.resize ? DiskState.Phase.Resizing : DiskState.Phase.Building;
    var xen = request.spec().xen();
    return new DiskState(request.namespace(), request.name(), request.uid(), phase, isFailed() ? null : stage,
        bytesDone, bytesTotal, percent, image != null && isFailed() ? image.capacityBytes() : request.sizeBytes(),
        image == null ? null : image.allocatedBytes(), image == null ? null : image.filesystemUuid(),
        imagePath.toString(), DiskEngine.xenDisk(imagePath, xen), DiskEngine.xenLegacyDisk(imagePath, xen),
        request.specDigest(), error);
  }

  /**
   * A published image with no operation running. The image's metadata does not record the Xen
   * settings, so the caller's spec (when known) decides the Xen entries, not the engine's defaults.
   */
  static DiskState ready(ImageInfo image, Xen xenOrNull) {
    String xenDisk = xenOrNull == null ? image.xenDisk() : DiskEngine.xenDisk(image.path(), xenOrNull);
    String legacy = xenOrNull == null ? image.xenLegacyDisk() : DiskEngine.xenLegacyDisk(image.path(), xenOrNull);
    return new DiskState(image.namespace(), image.name(), image.ownerUid(), DiskState.Phase.Ready, null,
        null, null, 100, image.capacityBytes(), image.allocatedBytes(), image.filesystemUuid(),
        image.path().toString(), xenDisk, legacy, image.specDigest(), null);
  }
}
