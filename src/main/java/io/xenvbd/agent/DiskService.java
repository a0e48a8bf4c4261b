package io.xenvbd.agent;

import io.xenvbd.disk.DiskEngine;
import io.xenvbd.disk.DiskException;
import io.xenvbd.disk.DiskRequest;
import io.xenvbd.disk.ImageInfo;
import io.xenvbd.protocol.DiskState;
import io.xenvbd.protocol.ErrorBody;
import io.xenvbd.protocol.ErrorCodes;
import io.xenvbd.protocol.PutDiskRequest;
import java.time.Duration;
import java.time.Instant;
import java.util.Map;
import java.util.Optional;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.LinkedBlockingQueue;
import java.util.concurrent.ThreadPoolExecutor;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.TimeoutException;
import java.util.concurrent.atomic.AtomicInteger;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * The disks of this node as the API sees them: starts builds and resizes on a bounded pool, one
 * operation at a time per disk, and answers their state. What survives a restart is on disk (the
 * engine's published images); only running and failed operations are held in memory.
 */
final class DiskService implements AutoCloseable {
  private static final Logger LOG = LoggerFactory.getLogger(DiskService.class);
  private static final Duration CANCEL_WAIT = Duration.ofSeconds(60);

  /** A state and whether this call started work (202) or only reported (200). */
  record Outcome(boolean started, DiskState state) {}

  private final DiskEngine engine;
  private final Duration retryFailedAfter;
  private final Metrics metrics;
  private final ThreadPoolExecutor pool;
  private final Map<String, Operation> operations = new ConcurrentHashMap<>();
  private final Map<String, Object> locks = new ConcurrentHashMap<>();

  DiskService(DiskEngine engine, int workers, Duration retryFailedAfter, Metrics metrics) {
    this.engine = engine;
    this.retryFailedAfter = retryFailedAfter;
    this.metrics = metrics;
    AtomicInteger n = new AtomicInteger();
    this.pool = new ThreadPoolExecutor(workers, workers, 0, TimeUnit.SECONDS, new LinkedBlockingQueue<>(), r -> {
      Thread t = new Thread(r, "xenvbd-worker-" + n.incrementAndGet());
      t.setDaemon(true);
      return t;
    });
  }

  /**
   * Create-or-confirm. Another owner: NotOwner, nothing touched. Running: its state. Published:
   * Ready, or a resize when the size grew. A failed request repeated unchanged is retried only after
   * {@code retryFailedAfter}; a changed one at once.
   */
  Outcome put(String namespace, String name, PutDiskRequest body) {
    if (body.uid() == null || body.uid().isBlank()) throw ApiError.badRequest("uid is required: the owning VirtualDisk's metadata.uid");
    if (body.spec() == null) throw ApiError.badRequest("spec is required: the VirtualDisk's spec");
    DiskRequest request = DiskRequest.of(namespace, name, body.uid(), body.spec());
    String key = namespace + "/" + name;
    synchronized (lock(key)) {
      Operation current = operations.get(key);
      if (current != null && current.running()) {
        requireOwner(current.request.uid(), request.uid(), key);
        return new Outcome(false, current.state(null));
      }
      Optional<ImageInfo> image = engine.inspect(namespace, name);
      if (image.isPresent()) {
        ImageInfo published = image.get();
        requireOwner(published.ownerUid(), request.uid(), key);
        if (request.sizeBytes() < published.capacityBytes()) {
          throw new ApiError(409, ErrorCodes.SHRINK_REFUSED, "disk " + key + " is " + published.capacityBytes()
              + " bytes and cannot shrink to " + request.sizeBytes() + ": set spec.size to at least the current size");
        }
        if (request.sizeBytes() == published.capacityBytes()) {
          // Remember the request (not a failure) so GET shows this spec's Xen entries.
          operations.put(key, Operation.confirmed(request, published.path()));
          return new Outcome(false, Operation.ready(published, request.spec().xen()));
        }
        if (holdFailure(current, request)) return new Outcome(false, current.state(published));
        return new Outcome(true, start(key, new Operation(Operation.Kind.resize, request, published.path())));
      }
      if (holdFailure(current, request)) return new Outcome(false, current.state(null));
      return new Outcome(true, start(key, new Operation(Operation.Kind.build, request, engine.imagePath(namespace, name))));
    }
  }

  Optional<DiskState> get(String namespace, String name) {
    String key = namespace + "/" + name;
    Operation current = operations.get(key);
    if (current != null && current.running()) return Optional.of(current.state(null));
    Optional<ImageInfo> image = engine.inspect(namespace, name);
    if (current != null && current.isFailed()) return Optional.of(current.state(image.orElse(null)));
    return image.map(i -> Operation.ready(i, current == null ? null : current.request.spec().xen()));
  }

  /** Idempotent; a running operation of the same owner is cancelled first (the engine cleans its leftovers). */
  void delete(String namespace, String name, String uid) {
    if (uid == null || uid.isBlank()) throw ApiError.badRequest("query parameter uid is required: the owning VirtualDisk's metadata.uid");
    String key = namespace + "/" + name;
    Instant start = Instant.now();
    synchronized (lock(key)) {
      Operation current = operations.get(key);
      if (current != null && current.running()) {
        requireOwner(current.request.uid(), uid, key);
        current.cancel();
        try {
          current.finished.get(CANCEL_WAIT.toSeconds(), TimeUnit.SECONDS);
        } catch (TimeoutException e) {
          throw new ApiError(409, ErrorCodes.IMAGE_IN_USE, "disk " + key + " is still stopping its " + current.kind
              + "; retry the delete in a few seconds");
        } catch (Exception e) {
          Thread.currentThread().interrupt();
          throw new ApiError(503, ErrorCodes.INTERNAL, "interrupted while stopping the " + current.kind + " of " + key);
        }
      }
      try {
        engine.delete(namespace, name, uid);
        metrics.operation("delete", "success", Duration.between(start, Instant.now()));
      } catch (DiskException e) {
        metrics.operation("delete", e.code().name(), Duration.between(start, Instant.now()));
        throw e;
      }
      operations.remove(key);
    }
  }

  int running() {
    return pool.getActiveCount();
  }

  int queued() {
    return pool.getQueue().size();
  }

  private boolean holdFailure(Operation current, DiskRequest request) {
    return current != null && current.isFailed() && current.sameRequest(request)
        && Duration.between(current.endedAt(), Instant.now()).compareTo(retryFailedAfter) < 0;
  }

  private DiskState start(String key, Operation op) {
    operations.put(key, op);
    op.submitted(pool.submit(() -> run(op)));
    return op.state(null);
  }

  private void run(Operation op) {
    if (!op.claim()) return;
    Instant start = Instant.now();
    String key = op.request.namespace() + "/" + op.request.name();
    try {
      LOG.info("{} of {} started", op.kind, key);
      if (op.kind == Operation.Kind.build) engine.build(op.request, op);
      else engine.grow(op.request, op);
      metrics.populated(op.populatedBytes());
      metrics.operation(op.kind.name(), "success", Duration.between(start, Instant.now()));
      op.succeeded();
      LOG.info("{} of {} done in {}", op.kind, key, Duration.between(start, Instant.now()));
    } catch (DiskException e) {
      metrics.operation(op.kind.name(), e.code().name(), Duration.between(start, Instant.now()));
      op.failed(new ErrorBody(e.code().name(), e.getMessage()));
      LOG.warn("{} of {} failed: {}: {}", op.kind, key, e.code(), e.getMessage());
    } catch (RuntimeException | Error e) {
      // A bug, not a disk condition: keep the details in the log, give the client a plain message.
      metrics.operation(op.kind.name(), ErrorCodes.INTERNAL, Duration.between(start, Instant.now()));
      op.failed(new ErrorBody(ErrorCodes.INTERNAL, "the agent failed unexpectedly; see the agent's log on node for " + key));
      LOG.error("{} of {} failed unexpectedly", op.kind, key, e);
    }
  }

  private static void requireOwner(String owner, String uid, String key) {
    if (!owner.equals(uid)) {
      throw new ApiError(409, ErrorCodes.NOT_OWNER, "disk " + key + " belongs to the VirtualDisk with uid " + owner
          + ", not " + uid + ": use another name, or delete the old VirtualDisk's image first");
    }
  }

  private Object lock(String key) {
    return locks.computeIfAbsent(key, k -> new Object());
  }

  /** Interrupts running work: the engine kills its commands and removes its temporary files. */
  @Override
  public void close() {
    pool.shutdownNow();
    try {
      if (!pool.awaitTermination(30, TimeUnit.SECONDS)) LOG.warn("disk operations still running after 30s");
    } catch (InterruptedException e) {
      Thread.currentThread().interrupt();
    }
  }
}
