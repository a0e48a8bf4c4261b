package io.xenvbd.operator;

import io.xenvbd.api.Sizes;
import io.xenvbd.protocol.AgentClient;
import io.xenvbd.protocol.AgentException;
import io.xenvbd.protocol.AgentUnreachableException;
import io.xenvbd.protocol.DiskState;
import io.xenvbd.protocol.ErrorBody;
import io.xenvbd.protocol.ErrorCodes;
import io.xenvbd.protocol.NodeInfo;
import io.xenvbd.protocol.Protocol;
import io.xenvbd.protocol.PutDiskRequest;
import java.net.ConnectException;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.Set;
import java.util.UUID;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.atomic.AtomicInteger;

/**
 * A FAKE node agent for unit-level reconciler tests (STYLE.md: "pure unit tests with fakes"): it
 * keeps images in memory and answers the AgentClient contract as the real agent documents it (PUT
 * create-or-confirm, a build that advances one stage per poll, NotOwner, ShrinkRefused, ImageInUse,
 * idempotent DELETE). It stands in for the agent, which is not under test here; the operator is.
 * The integration tests use real agents over HTTPS.
 */
final class FakeNode implements AgentClient {
  private static final String[] STAGES = {
    "Create", "Format", "Populate", "Tailor", "Check", "Publish"
  };

  private record Image(
      String uid,
      long capacity,
      long target,
      int stagesLeft,
      DiskState.Phase phase,
      String uuid,
      ErrorBody error,
      boolean inUse) {}

  final String name;
  final String root;
  final AtomicInteger builds = new AtomicInteger();
  private final Map<String, Image> images = new ConcurrentHashMap<>();
  private volatile boolean stopped;
  private volatile ErrorBody failNextBuild;
  private volatile int stagesPerBuild = 3;
  private volatile Runnable onBuild = () -> {};

  FakeNode(String name) {
    this.name = name;
    this.root = "/var/lib/xen/images-" + name;
  }

  void stop() {
    stopped = true;
  }

  void resume() {
    stopped = false;
  }

  void failNextBuild(String code, String message) {
    failNextBuild = new ErrorBody(code, message);
  }

  /** Runs on the calling (operator's) thread as each new build is asked for, before it answers. */
  void onBuild(Runnable r) {
    onBuild = r;
  }

  void stagesPerBuild(int n) {
    stagesPerBuild = n;
  }

  void setInUse(String ns, String disk, boolean inUse) {
    images.computeIfPresent(
        ns + "/" + disk,
        (k, i) ->
            new Image(i.uid, i.capacity, i.target, i.stagesLeft, i.phase, i.uuid, i.error, inUse));
  }

  boolean hasImage(String ns, String disk) {
    Image i = images.get(ns + "/" + disk);
    return i != null && i.capacity > 0;
  }

  long capacity(String ns, String disk) {
    Image i = images.get(ns + "/" + disk);
    return i == null ? 0 : i.capacity;
  }

  @Override
  public NodeInfo node() {
    reachable();
    return new NodeInfo(name, "fake", null, null, List.of(), List.of(), Protocol.VERSION);
  }

  @Override
  public synchronized DiskState putDisk(String ns, String disk, PutDiskRequest request) {
    reachable();
    long size = Sizes.bytes(request.spec().size());
    String key = ns + "/" + disk;
    Image i = images.get(key);
    if (i != null && !i.uid.equals(request.uid())) {
      throw new AgentException(
          ErrorCodes.NOT_OWNER, 409, "image " + key + " belongs to VirtualDisk uid " + i.uid);
    }
    if (i != null && size < i.capacity) {
      throw new AgentException(ErrorCodes.SHRINK_REFUSED, 409, "cannot shrink " + key);
    }
    if (i == null || (i.phase == DiskState.Phase.Failed && i.capacity == 0)) {
      builds.incrementAndGet();
      onBuild.run();
      ErrorBody fail = failNextBuild;
      failNextBuild = null;
      i =
          fail != null
              ? new Image(request.uid(), 0, size, 0, DiskState.Phase.Failed, null, fail, false)
              : new Image(
                  request.uid(),
                  0,
                  size,
                  stagesPerBuild,
                  DiskState.Phase.Building,
                  null,
                  null,
                  false);
    } else if (i.phase == DiskState.Phase.Ready && size > i.capacity) {
      i = new Image(i.uid, i.capacity, size, 1, DiskState.Phase.Resizing, i.uuid, null, i.inUse);
    }
    images.put(key, i);
    return state(ns, disk, i);
  }

  @Override
  public synchronized Optional<DiskState> getDisk(String ns, String disk) {
    reachable();
    String key = ns + "/" + disk;
    Image i = images.get(key);
    if (i == null) return Optional.empty();
    if (i.phase == DiskState.Phase.Building || i.phase == DiskState.Phase.Resizing) {
      int left = Math.min(i.stagesLeft, stagesPerBuild);
      i =
          left > 1
              ? new Image(i.uid, i.capacity, i.target, left - 1, i.phase, i.uuid, null, i.inUse)
              : new Image(
                  i.uid,
                  i.target,
                  i.target,
                  0,
                  DiskState.Phase.Ready,
                  i.uuid == null ? UUID.randomUUID().toString() : i.uuid,
                  null,
                  i.inUse);
      images.put(key, i);
    }
    return Optional.of(state(ns, disk, i));
  }

  @Override
  public synchronized void deleteDisk(String ns, String disk, String uid) {
    reachable();
    String key = ns + "/" + disk;
    Image i = images.get(key);
    if (i == null) return;
    if (!i.uid.equals(uid))
      throw new AgentException(
          ErrorCodes.NOT_OWNER, 409, "image " + key + " belongs to uid " + i.uid);
    if (i.inUse) {
      throw new AgentException(
          ErrorCodes.IMAGE_IN_USE, 409, "image " + path(ns, disk) + " is attached to /dev/loop3");
    }
    images.remove(key);
  }

  /** Released images, by namespace/name: kept, no longer owned. */
  final Set<String> released = ConcurrentHashMap.newKeySet();

  @Override
  public synchronized void releaseDisk(String ns, String disk, String uid) {
    reachable();
    String key = ns + "/" + disk;
    Image i = images.get(key);
    if (i == null) return;
    if (!i.uid.equals(uid))
      throw new AgentException(
          ErrorCodes.NOT_OWNER, 409, "image " + key + " belongs to uid " + i.uid);
    released.add(key); // kept, and refused to any new owner, as the real agent does
    images.put(
        key,
        new Image(
            "released:" + i.uid,
            i.capacity,
            i.target,
            i.stagesLeft,
            i.phase,
            i.uuid,
            i.error,
            i.inUse));
  }

  private DiskState state(String ns, String disk, Image i) {
    boolean built = i.capacity > 0;
    int done = Math.max(0, stagesPerBuild - i.stagesLeft);
    int percent =
        i.phase == DiskState.Phase.Ready
            ? 100
            : Math.min(99, 100 * done / Math.max(1, stagesPerBuild));
    String stage =
        i.phase == DiskState.Phase.Resizing
            ? "Resize"
            : i.phase == DiskState.Phase.Building
                ? STAGES[Math.min(STAGES.length - 1, done)]
                : null;
    String path = path(ns, disk);
    return new DiskState(
        ns,
        disk,
        i.uid,
        i.phase,
        stage,
        null,
        null,
        i.phase == DiskState.Phase.Failed ? null : percent,
        i.phase == DiskState.Phase.Ready ? i.capacity : i.target,
        built ? 1_200_000L + i.capacity / 1000 : null,
        i.uuid,
        path,
        "digest",
        i.error,
        null);
  }

  private String path(String ns, String disk) {
    return root + "/" + ns + "/" + disk + ".img";
  }

  private void reachable() {
    if (stopped)
      throw new AgentUnreachableException(
          "fake://" + name, new ConnectException("Connection refused"));
  }
}
