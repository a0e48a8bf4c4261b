package io.xenvbd.agent;

import io.xenvbd.api.SpecRules;
import io.xenvbd.api.VirtualDiskSpec;
import io.xenvbd.disk.DiskEngine;
import io.xenvbd.disk.DiskException;
import io.xenvbd.disk.DiskRequest;
import io.xenvbd.disk.ImageInfo;
import io.xenvbd.disk.RemoteClone;
import io.xenvbd.protocol.DiskState;
import io.xenvbd.protocol.ErrorBody;
import io.xenvbd.protocol.ErrorCodes;
import io.xenvbd.protocol.PutDiskRequest;
import java.time.Duration;
import java.time.Instant;
import java.util.Map;
import java.util.Optional;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.ExecutionException;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.TimeoutException;
import java.util.concurrent.atomic.AtomicInteger;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * The disks of this node as the API sees them: starts builds and resizes on a {@link WorkerPool},
 * one operation at a time per disk, and answers their state. Nothing blocks a worker for good: one
 * namespace never holds every worker, queued work is taken oldest first among namespaces under
 * their cap, every operation has a deadline (two hours by default) past which it is stopped and
 * fails with {@link #DEADLINE_EXCEEDED}, and a delete stops the disk's operation (queued: it never
 * starts). What survives a restart is on disk (the engine's published images); only running and
 * failed operations are held in memory.
 */
final class DiskService implements AutoCloseable {
  private static final Logger LOG = LoggerFactory.getLogger(DiskService.class);
  private static final Duration CANCEL_WAIT = Duration.ofSeconds(60);

  /**
   * Long enough for a big archive over a slow link, short enough that a stuck build gives its
   * worker back the same day.
   */
  static final Duration DEFAULT_DEADLINE = Duration.ofHours(2);

  /** The error code of an operation stopped at its deadline. */
  static final String DEADLINE_EXCEEDED = ErrorCodes.DEADLINE_EXCEEDED;

  /**
   * The answer to a PUT: the state, and whether this call started work (202) or only reported
   * (200).
   */
  record PutReply(boolean started, DiskState state) {}

  private final DiskEngine engine;
  private final Duration retryFailedAfter;
  private final Metrics metrics;
  private final WorkerPool pool;
  private final Map<String, Operation> operations = new ConcurrentHashMap<>();
  private final EndLog ends = new EndLog();
  private final Map<String, Object> locks = new ConcurrentHashMap<>();
  private volatile Peers peers;
  private volatile Runnable freed = () -> {};

  DiskService(DiskEngine engine, int workers, Duration retryFailedAfter, Metrics metrics) {
    this(engine, workers, retryFailedAfter, metrics, DEFAULT_DEADLINE);
  }

  /** {@code deadline}: how long one build or resize may run before it is stopped. */
  DiskService(
      DiskEngine engine,
      int workers,
      Duration retryFailedAfter,
      Metrics metrics,
      Duration deadline) {
    this.engine = engine;
    this.retryFailedAfter = retryFailedAfter;
    this.metrics = metrics;
    this.pool = new WorkerPool(workers, deadline, this::run);
  }

  /**
   * Create-or-confirm. Another owner: NotOwner, nothing touched. Running: its state. Published:
   * Ready, or a resize when the size grew. A failed request repeated unchanged is retried only
   * after {@code retryFailedAfter}; a changed one at once.
   */
  PutReply put(String namespace, String name, PutDiskRequest body) {
    VirtualDiskSpec spec = body.spec() == null ? null : WireSpecs.toApi(body.spec());
    // The operator checks the same rules, but a holder of the token need not be the operator.
    SpecRules.violation(namespace, name, spec)
        .ifPresent(
            message -> {
              throw ApiError.badRequest(message);
            });
    if (body.uid() == null || body.uid().isBlank())
      throw ApiError.badRequest("uid is required: the owning VirtualDisk's metadata.uid");
    DiskRequest request =
        DiskRequest.of(namespace, name, body.uid(), spec, WireSpecs.cloneSourceUid(body.spec()));
    String key = namespace + "/" + name;
    synchronized (lock(key)) {
      Operation current = operations.get(key);
      if (current != null && current.running()) {
        requireOwner(current.request.uid(), request.uid(), key);
        return new PutReply(false, current.state(null));
      }
      Optional<ImageInfo> image = engine.inspect(namespace, name);
      if (image.isPresent()) {
        ImageInfo published = image.get();
        requireOwner(published.ownerUid(), request.uid(), key);
        if (request.sizeBytes() < published.capacityBytes()) {
          throw new ApiError(
              409,
              ErrorCodes.SHRINK_REFUSED,
              "disk "
                  + key
                  + " is "
                  + published.capacityBytes()
                  + " bytes and cannot shrink to "
                  + request.sizeBytes()
                  + ": set spec.size to at least the current size");
        }
        if (request.sizeBytes() == published.capacityBytes()) {
          // Remember the request (not a failure), as a finished operation of this spec.
          operations.put(key, Operation.confirmed(request, published.path()));
          return new PutReply(false, Operation.ready(published));
        }
        if (holdFailure(current, request)) return new PutReply(false, current.state(published));
        return new PutReply(
            true, start(key, new Operation(Operation.Kind.resize, request, published.path())));
      }
      RemoteClone moveFrom = moveFrom(body);
      // a move's PUT carries a fresh ticket each time and the operator paces its retries: never
      // held
      if (moveFrom == null && holdFailure(current, request))
        return new PutReply(false, current.state(null));
      Operation op =
          moveFrom != null
              ? new Operation(
                  Operation.Kind.move, request, engine.imagePath(namespace, name), moveFrom)
              : new Operation(
                  Operation.Kind.build, request, engine.imagePath(namespace, name), remote(body));
      return new PutReply(true, start(key, op));
    }
  }

  /** How cross-node clones reach their source's agent; without it such a clone is refused. */
  void peers(Peers peers) {
    this.peers = peers;
  }

  /**
   * The longest a GET waits for a running operation to end (see {@link #get(String, String,
   * Duration)}).
   */
  static final Duration MAX_WAIT = Duration.ofSeconds(2);

  /**
   * {@link #get(String, String)}, after waiting up to {@code wait} (at most {@link #MAX_WAIT}) for
   * the disk's operation to end when one runs on a worker now: so that the operator learns that a
   * build is done when it is, not at its next poll. Queued work, and a disk with nothing running,
   * answer at once.
   */
  Optional<DiskState> get(String namespace, String name, Duration wait) {
    Operation current = operations.get(namespace + "/" + name);
    if (current != null && current.running() && current.startedAt() != null && !wait.isZero()) {
      try {
        // at most MAX_WAITING_GETS wait, so the other calls always find an API thread
        if (waitingGets.incrementAndGet() <= MAX_WAITING_GETS && !stopping.isDone()) {
          CompletableFuture.anyOf(current.finished, stopping)
              .get(Math.min(wait.toMillis(), MAX_WAIT.toMillis()), TimeUnit.MILLISECONDS);
        }
      } catch (TimeoutException | ExecutionException e) {
        // still running (or ended badly): the state says which
      } catch (InterruptedException e) {
        Thread.currentThread().interrupt();
      } finally {
        waitingGets.decrementAndGet();
      }
    }
    return get(namespace, name);
  }

  /** Completed when the agent stops: no GET waits any more (see {@link #stopWaiting}). */
  private final CompletableFuture<Void> stopping = new CompletableFuture<>();

  /**
   * The agent is stopping: GETs waiting for an operation's end, and callers of {@code GET
   * /v1/ends}, are answered now, before the server closes their connections.
   */
  void stopWaiting() {
    stopping.complete(null);
    ends.close();
  }

  /** The operations that ended: {@code GET /v1/ends}. */
  EndLog ends() {
    return ends;
  }

  /** GETs that may wait at once; the others answer at once (see AgentServer.API_THREADS). */
  static final int MAX_WAITING_GETS = 4;

  private final AtomicInteger waitingGets = new AtomicInteger();

  Optional<DiskState> get(String namespace, String name) {
    String key = namespace + "/" + name;
    Operation current = operations.get(key);
    if (current != null && current.running()) return Optional.of(current.state(null));
    Optional<ImageInfo> image = engine.inspect(namespace, name);
    if (current != null && current.isFailed())
      return Optional.of(current.state(image.orElse(null)));
    return image.map(Operation::ready);
  }

  /** Told after each delete: the node has room again (the heartbeat says so at once). */
  void onFreed(Runnable r) {
    freed = r;
  }

  /**
   * Idempotent. The disk's operation (same owner) is stopped first: a queued one leaves the queue
   * and never starts, a running one is interrupted and the engine removes its leftovers.
   */
  void delete(String namespace, String name, String uid) {
    if (uid == null || uid.isBlank())
      throw ApiError.badRequest(
          "query parameter uid is required: the owning VirtualDisk's metadata.uid");
    String key = namespace + "/" + name;
    Instant start = Instant.now();
    synchronized (lock(key)) {
      stopRunning(key, uid, "delete");
      try {
        engine.delete(namespace, name, uid);
        metrics.operation("delete", "success", Duration.between(start, Instant.now()));
        freed.run();
      } catch (DiskException e) {
        metrics.operation(
            "delete", ApiError.wireCode(e.code()), Duration.between(start, Instant.now()));
        throw e;
      }
      operations.remove(key);
    }
  }

  /**
   * The VirtualDisk went with reclaimPolicy Retain: its image is kept and marked released. A
   * running build or resize of the same owner is stopped first, as for a delete (a build has
   * published nothing, so there is nothing to keep; a stopped resize leaves the image at its old,
   * recorded size).
   */
  void release(String namespace, String name, String uid) {
    if (uid == null || uid.isBlank())
      throw ApiError.badRequest(
          "query parameter uid is required: the owning VirtualDisk's metadata.uid");
    String key = namespace + "/" + name;
    synchronized (lock(key)) {
      stopRunning(key, uid, "release");
      engine.release(namespace, name, uid);
      operations.remove(key);
    }
  }

  /**
   * Stops the disk's running operation (same owner only) and waits for it, before a delete or
   * release.
   */
  private void stopRunning(String key, String uid, String what) {
    Operation current = operations.get(key);
    if (current == null || !current.running()) return;
    requireOwner(current.request.uid(), uid, key);
    pool.cancel(current, Operation.Stop.delete);
    try {
      current.finished.get(CANCEL_WAIT.toSeconds(), TimeUnit.SECONDS);
    } catch (TimeoutException e) {
      throw new ApiError(
          409,
          ErrorCodes.IMAGE_IN_USE,
          "disk "
              + key
              + " is still stopping its "
              + current.kind
              + "; retry the "
              + what
              + " in a few seconds");
    } catch (Exception e) {
      Thread.currentThread().interrupt();
      throw new ApiError(
          503,
          ErrorCodes.INTERNAL,
          "interrupted while stopping the " + current.kind + " of " + key);
    }
  }

  /** Operations running on a worker now. */
  int running() {
    return pool.running();
  }

  /** Operations waiting for a worker (or for their namespace to be under its cap). */
  int queued() {
    return pool.queued();
  }

  /**
   * The clone's source on another node, ready to fetch; null when the clone (if any) is from this
   * node.
   */
  private RemoteClone remote(PutDiskRequest body) {
    var populate = body.spec() == null ? null : body.spec().populate();
    if (populate == null || populate.cloneFrom() == null || populate.cloneFrom().remote() == null)
      return null;
    Peers p = peers;
    if (p == null) {
      throw ApiError.badRequest(
          "this agent cannot clone from another node: it was started without --peer-ca (the"
              + " agents' CA, to check the source agent's certificate); give it one, or clone a disk on this node");
    }
    return p.remote(populate.cloneFrom().remote());
  }

  /**
   * The old node of a disk moving here (protocol 6), ready to fetch; null when this is no move. A
   * move carries nothing else to build from: a populate that also names a source is refused.
   */
  private RemoteClone moveFrom(PutDiskRequest body) {
    var populate = body.spec() == null ? null : body.spec().populate();
    if (populate == null || populate.moveFrom() == null) return null;
    boolean more =
        populate.hostPaths() != null
            || populate.archive() != null
            || populate.cloneFrom() != null
            || populate.createDirs() != null
            || populate.adopt() != null
            || body.spec().tailor() != null;
    if (more) {
      throw ApiError.badRequest(
          "spec.populate.moveFrom brings the disk's own image from its old node: send it without"
              + " hostPaths, archive, cloneFrom, createDirs, adopt or tailor");
    }
    Peers p = peers;
    if (p == null) {
      throw ApiError.badRequest(
          "this agent cannot take a disk moved from another node: it was started without --peer-ca"
              + " (the agents' CA, to check the old node's agent certificate); give it one, or drain"
              + " to another node");
    }
    return p.remote(populate.moveFrom(), "spec.populate.moveFrom");
  }

  private boolean holdFailure(Operation current, DiskRequest request) {
    return current != null
        && current.isFailed()
        && current.sameRequest(request)
        && Duration.between(current.endedAt(), Instant.now()).compareTo(retryFailedAfter) < 0;
  }

  private DiskState start(String key, Operation op) {
    operations.put(key, op);
    // its state says how it ended before the end is told (GET /v1/ends)
    op.finished.whenComplete(
        (v, e) -> ends.record(op.request.namespace(), op.request.name(), op.request.uid()));
    pool.submit(op);
    return op.state(null);
  }

  /** On a worker: runs the operation in the engine and records how it ended. */
  private void run(Operation op) {
    Instant start = Instant.now();
    String key = op.disk();
    try {
      LOG.info("{} of {} started", op.kind, key);
      switch (op.kind) {
        case build -> engine.build(op.request, op, op.remote);
        case move -> engine.receive(op.request, op, op.remote);
        case resize -> engine.grow(op.request, op);
      }
      metrics.populated(op.populatedBytes());
      metrics.operation(op.kind.name(), "success", Duration.between(start, Instant.now()));
      op.succeeded();
      LOG.info("{} of {} done in {}", op.kind, key, Duration.between(start, Instant.now()));
    } catch (RuntimeException | Error e) {
      boolean bug = !(e instanceof DiskException) && op.stopped() == Operation.Stop.none;
      ErrorBody error =
          stopped(op)
              .orElseGet(
                  () ->
                      e instanceof DiskException de
                          ? new ErrorBody(ApiError.wireCode(de.code()), de.getMessage())
                          // A bug, not a disk condition: keep the details in the log, give the
                          // client a plain message.
                          : new ErrorBody(
                              ErrorCodes.INTERNAL,
                              "the agent failed unexpectedly; see the agent's log on node for "
                                  + key));
      metrics.operation(op.kind.name(), error.code(), Duration.between(start, Instant.now()));
      op.failed(error);
      if (bug) LOG.error("{} of {} failed unexpectedly", op.kind, key, e);
      else LOG.warn("{} of {} failed: {}: {}", op.kind, key, error.code(), e.getMessage());
    }
  }

  /**
   * The error of an operation that was told to stop, whatever the step that met the interrupt said.
   */
  private Optional<ErrorBody> stopped(Operation op) {
    String what = "the " + op.kind + " of " + op.disk();
    return switch (op.stopped()) {
      case none -> Optional.empty();
      case deadline ->
          Optional.of(
              new ErrorBody(
                  DEADLINE_EXCEEDED,
                  what
                      + " ran longer than its deadline of "
                      + WorkerPool.human(pool.deadline())
                      + (op.kind != Operation.Kind.resize
                          ? " and was stopped, nothing published: the agent's log says which step it was in; make that step quicker"
                              + " (a nearer or smaller archive, fewer or smaller hostPaths)"
                          : " and was stopped once any filesystem rewrite under way had finished: the agent's log says which step it was"
                              + " in, and what the filesystem's size is now")));
      case delete ->
          Optional.of(
              new ErrorBody(ErrorCodes.INTERRUPTED, what + " was stopped by a delete of the disk"));
      case shutdown ->
          Optional.of(
              new ErrorBody(
                  ErrorCodes.INTERRUPTED,
                  what
                      + " was stopped because the agent is shutting down; it starts again when the request is repeated"));
    };
  }

  private static void requireOwner(String owner, String uid, String key) {
    if (!owner.equals(uid)) {
      // Who the owner is stays on the node: another tenant's uid is not this caller's to learn.
      throw new ApiError(
          409,
          ErrorCodes.NOT_OWNER,
          "disk "
              + key
              + " belongs to another VirtualDisk, not to uid "
              + uid
              + ": use another name, or delete the old VirtualDisk's image first");
    }
  }

  private Object lock(String key) {
    return locks.computeIfAbsent(key, k -> new Object());
  }

  /**
   * Interrupts running work (the engine kills its commands and removes its temporary files); queued
   * work never starts.
   */
  @Override
  public void close() {
    pool.close();
  }
}
