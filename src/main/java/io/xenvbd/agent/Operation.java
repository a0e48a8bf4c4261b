package io.xenvbd.agent;

import io.xenvbd.disk.DiskRequest;
import io.xenvbd.disk.ImageInfo;
import io.xenvbd.disk.ProgressListener;
import io.xenvbd.disk.RemoteClone;
import io.xenvbd.protocol.DiskState;
import io.xenvbd.protocol.ErrorBody;
import java.nio.file.Path;
import java.time.Instant;
import java.util.Objects;
import java.util.concurrent.CompletableFuture;

/**
 * One build or resize of one disk: its request, live progress, and how it ended. Lives in memory
 * only. {@link #finished} completes when the operation is over: it ended on its worker, or it was
 * stopped before it started. While its worker runs it, {@link #stop} interrupts that thread (and
 * nothing else: once {@link #end} is called no stop reaches the thread, which by then serves other
 * work).
 */
final class Operation implements ProgressListener {
  enum Kind {
    build,
    resize,
    /** A build whose image is the disk's own, streamed from the node it is moving off. */
    move
  }

  /** Why an operation was told to stop, if it was. */
  enum Stop {
    none,
    delete,
    deadline,
    shutdown
  }

  final Kind kind;
  final DiskRequest request;
  final Path imagePath;

  /** A clone's source on another node, or a move's old node; null for everything else. */
  final RemoteClone remote;

  final CompletableFuture<Void> finished = new CompletableFuture<>();
  private final Object lock = new Object();
  private Thread worker; // guarded by lock: set while the engine runs this operation
  private boolean started; // guarded by lock
  private Stop stop = Stop.none; // guarded by lock
  private volatile Instant startedAt;
  private volatile Instant stoppedAt;
  private volatile String stage = DiskState.STAGE_QUEUED;
  private volatile long bytesDone;
  private volatile long bytesTotal;
  private volatile int percent;
  private volatile long populatedBytes;
  private volatile ErrorBody error;
  private volatile Instant endedAt;

  Operation(Kind kind, DiskRequest request, Path imagePath) {
    this(kind, request, imagePath, null);
  }

  Operation(Kind kind, DiskRequest request, Path imagePath, RemoteClone remote) {
    this.remote = remote;
    this.kind = kind;
    this.request = request;
    this.imagePath = imagePath;
  }

  /** A request answered from the published image (nothing to do), kept so GET knows its spec. */
  static Operation confirmed(DiskRequest request, Path imagePath) {
    Operation op = new Operation(Kind.build, request, imagePath);
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

  String namespace() {
    return request.namespace();
  }

  /** namespace/name: the disk this operation works on. */
  String disk() {
    return request.namespace() + "/" + request.name();
  }

  /**
   * The worker calls this before handing the operation to the engine; false when it was stopped
   * first and must not run.
   */
  boolean begin(Thread thread) {
    synchronized (lock) {
      if (stop != Stop.none) return false;
      started = true;
      worker = thread;
      startedAt = Instant.now();
      return true;
    }
  }

  /**
   * The worker calls this once the engine returned: from then on no stop interrupts that thread.
   */
  void end() {
    synchronized (lock) {
      worker = null;
    }
  }

  /**
   * Never starts when it has not started yet (and is over at once); interrupted when running, so
   * the engine kills its commands and removes its temporaries. The first reason given is the one
   * kept.
   */
  void stop(Stop why) {
    synchronized (lock) {
      if (stop == Stop.none) {
        stop = why;
        stoppedAt = Instant.now();
      }
      if (!started) finished.complete(null);
      else if (worker != null) worker.interrupt();
    }
  }

  /**
   * Interrupts the worker again when the operation was told to stop and still runs: a step that
   * swallowed the first interrupt meets the next one at its next blocking call.
   */
  void interruptAgain() {
    synchronized (lock) {
      if (worker != null && stop != Stop.none) worker.interrupt();
    }
  }

  Stop stopped() {
    synchronized (lock) {
      return stop;
    }
  }

  /** When the engine started it; null while queued. */
  Instant startedAt() {
    return startedAt;
  }

  /** When it was told to stop; null when it was not. */
  Instant stoppedAt() {
    return stoppedAt;
  }

  /** The stage it reported last (Queued before it starts). */
  String stage() {
    return stage;
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
    return request.uid().equals(other.uid())
        && request.sizeBytes() == other.sizeBytes()
        && request.specDigest().equals(other.specDigest())
        && Objects.equals(request.cloneSourceUid(), other.cloneSourceUid());
  }

  /**
   * What GET answers while it runs, or after it failed (with the image's figures when one exists).
   */
  DiskState state(ImageInfo image) {
    DiskState.Phase phase =
        isFailed()
            ? DiskState.Phase.Failed
            : kind == Kind.resize ? DiskState.Phase.Resizing : DiskState.Phase.Building;
    return new DiskState(
        request.namespace(),
        request.name(),
        request.uid(),
        phase,
        isFailed() ? null : stage,
        bytesDone,
        bytesTotal,
        percent,
        image != null && isFailed() ? image.capacityBytes() : request.sizeBytes(),
        image == null ? null : image.allocatedBytes(),
        image == null ? null : image.filesystemUuid(),
        imagePath.toString(),
        request.specDigest(),
        error,
        null);
  }

  /** A published image with no operation running. */
  static DiskState ready(ImageInfo image) {
    return new DiskState(
        image.namespace(),
        image.name(),
        image.ownerUid(),
        DiskState.Phase.Ready,
        null,
        null,
        null,
        100,
        image.capacityBytes(),
        image.allocatedBytes(),
        image.filesystemUuid(),
        image.path().toString(),
        image.specDigest(),
        null,
        cloned(image));
  }

  private static DiskState.Cloned cloned(ImageInfo image) {
    return image.cloned() == null
        ? null
        : new DiskState.Cloned(image.cloned().method().name(), image.cloned().sharedBytes());
  }
}
