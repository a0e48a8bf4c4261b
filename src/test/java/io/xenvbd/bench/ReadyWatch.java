package io.xenvbd.bench;

import io.fabric8.kubernetes.client.KubernetesClient;
import io.fabric8.kubernetes.client.informers.ResourceEventHandler;
import io.fabric8.kubernetes.client.informers.SharedIndexInformer;
import io.xenvbd.api.Conditions;
import io.xenvbd.api.VirtualDisk;
import io.xenvbd.api.VirtualDiskStatus;
import java.util.Map;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.ExecutionException;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.TimeoutException;

/**
 * Watches VirtualDisks (an informer: list, then watch, as kubectl wait does) and records, per name,
 * the System.nanoTime at which its Ready condition was first seen True, and when it was deleted. A
 * disk that turns Failed completes with an error carrying its message, so a benchmark stops at once
 * instead of waiting for a timeout.
 */
final class ReadyWatch implements AutoCloseable {
  /**
   * What the watch saw when a disk became Ready (nanoTime for intervals, wall clock to match the
   * log).
   */
  record Seen(long nanos, long wallMillis, VirtualDisk disk) {}

  private final Map<String, CompletableFuture<Seen>> ready = new ConcurrentHashMap<>();
  private final Map<String, CompletableFuture<Long>> gone = new ConcurrentHashMap<>();
  private final Map<String, Long> placedWallMillis = new ConcurrentHashMap<>();
  private final SharedIndexInformer<VirtualDisk> informer;

  ReadyWatch(KubernetesClient client) {
    informer =
        client
            .resources(VirtualDisk.class)
            .inAnyNamespace()
            .inform(
                new ResourceEventHandler<>() {
                  @Override
                  public void onAdd(VirtualDisk d) {
                    seen(d);
                  }

                  @Override
                  public void onUpdate(VirtualDisk old, VirtualDisk d) {
                    seen(d);
                  }

                  @Override
                  public void onDelete(VirtualDisk d, boolean unknownFinalState) {
                    gone(d.getMetadata().getName()).complete(System.nanoTime());
                  }
                },
                0);
  }

  private void seen(VirtualDisk d) {
    long now = System.nanoTime();
    long wall = System.currentTimeMillis();
    VirtualDiskStatus st = d.getStatus();
    if (st == null) return;
    String name = d.getMetadata().getName();
    if (st.nodeName() != null) placedWallMillis.putIfAbsent(name, wall);
    if (st.conditions() != null && Conditions.isTrue(st.conditions(), Conditions.READY)) {
      ready(name).complete(new Seen(now, wall, d));
    } else if (st.phase() == VirtualDiskStatus.Phase.Failed) {
      String why =
          st.conditions() == null
              ? ""
              : Conditions.find(st.conditions(), Conditions.READY)
                  .map(c -> c.getReason() + ": " + c.getMessage())
                  .orElse("");
      ready(name)
          .completeExceptionally(
              new IllegalStateException("VirtualDisk " + name + " failed: " + why));
    }
  }

  CompletableFuture<Seen> ready(String name) {
    return ready.computeIfAbsent(name, k -> new CompletableFuture<>());
  }

  /**
   * Wall-clock millis at which status.nodeName was first seen set (the operator placed the disk),
   * or null.
   */
  Long placedAt(String name) {
    return placedWallMillis.get(name);
  }

  CompletableFuture<Long> gone(String name) {
    return gone.computeIfAbsent(name, k -> new CompletableFuture<>());
  }

  Seen awaitReady(String name, long timeoutSeconds) {
    try {
      return ready(name).get(timeoutSeconds, TimeUnit.SECONDS);
    } catch (TimeoutException e) {
      throw new IllegalStateException(
          "VirtualDisk " + name + " was not Ready within " + timeoutSeconds + " s", e);
    } catch (ExecutionException e) {
      throw new IllegalStateException(e.getCause().getMessage(), e.getCause());
    } catch (InterruptedException e) {
      Thread.currentThread().interrupt();
      throw new IllegalStateException("interrupted", e);
    }
  }

  void awaitGone(String name, long timeoutSeconds) {
    try {
      gone(name).get(timeoutSeconds, TimeUnit.SECONDS);
    } catch (Exception e) {
      throw new IllegalStateException(
          "VirtualDisk " + name + " was not deleted within " + timeoutSeconds + " s", e);
    }
  }

  @Override
  public void close() {
    informer.close();
  }
}
