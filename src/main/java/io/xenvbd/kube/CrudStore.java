package io.xenvbd.kube;

import static java.nio.charset.StandardCharsets.UTF_8;

import com.fasterxml.jackson.databind.JsonNode;
import io.fabric8.kubernetes.api.model.GenericKubernetesResource;
import io.fabric8.kubernetes.client.server.mock.KubernetesAttributesExtractor;
import io.fabric8.kubernetes.client.server.mock.KubernetesCrudDispatcher;
import io.fabric8.mockwebserver.crud.Attribute;
import io.fabric8.mockwebserver.crud.AttributeSet;
import io.fabric8.mockwebserver.dsl.HttpMethod;
import io.fabric8.mockwebserver.http.Buffer;
import io.fabric8.mockwebserver.http.Headers;
import io.fabric8.mockwebserver.http.MockResponse;
import io.fabric8.mockwebserver.http.RecordedRequest;
import java.time.Instant;
import java.time.temporal.ChronoUnit;
import java.util.Map;
import java.util.Objects;
import java.util.Set;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.atomic.AtomicLong;
import java.util.concurrent.locks.Lock;
import java.util.concurrent.locks.ReentrantReadWriteLock;

/**
 * The fabric8 mock server's CRUD store, used in-process (no MockWebServer, so no request log that
 * grows): every stored change is also published to the {@link WatchHub}, with a fresh
 * resourceVersion for deletions, as kube-apiserver does.
 *
 * <p>The mock finds an object by testing every stored object against the request (a linear scan per
 * read and per write; with 1000 disks and their events that scan is most of the cost of a write).
 * This store keeps an index from kind, namespace and name to the stored keys, kept in step with
 * every change in {@link #processEvent}, and answers single-object lookups from it; lists still
 * scan.
 */
final class CrudStore extends KubernetesCrudDispatcher {
  record Reply(int code, String body) {
    JsonNode json() {
      return Json.parse(body);
    }
  }

  private final WatchHub hub;

  /**
   * plural|namespace|name → the keys of the stored objects with that identity (one per API group).
   */
  private final Map<String, Set<AttributeSet>> index = new ConcurrentHashMap<>();

  /** Readers share, writers exclude: the index and the mock's map change together. */
  private final ReentrantReadWriteLock lock = new ReentrantReadWriteLock();

  /**
   * Set when an object was stored under a key without an identity: lookups then scan, as the mock
   * does.
   */
  private volatile boolean unindexed;

  /**
   * Counts changes to CustomResourceDefinitions, so that {@link CrdRegistry} re-reads them only
   * then.
   */
  private final AtomicLong crdChanges = new AtomicLong();

  CrudStore(WatchHub hub) {
    this.hub = hub;
  }

  Reply call(String method, String path, String contentType, String body) {
    Lock l = "GET".equals(method) ? lock.readLock() : lock.writeLock();
    l.lock();
    try {
      return dispatchLocked(method, path, contentType, body);
    } finally {
      l.unlock();
    }
  }

  private Reply dispatchLocked(String method, String path, String contentType, String body) {
    Headers.Builder headers = Headers.builder();
    if (contentType != null) {
      headers.add("Content-Type", contentType);
    }
    byte[] bytes = body == null ? new byte[0] : body.getBytes(UTF_8);
    MockResponse r =
        dispatch(
            new RecordedRequest(
                "HTTP/1.1", HttpMethod.valueOf(method), path, headers.build(), new Buffer(bytes)));
    Buffer b = r.getBody();
    return new Reply(
        r.code(), b == null || b.getBytes() == null ? "" : new String(b.getBytes(), UTF_8));
  }

  long crdChanges() {
    return crdChanges.get();
  }

  /** The stored object, or null. */
  JsonNode get(String objectPath) {
    Reply r = call("GET", objectPath, null, null);
    return r.code() == 200 ? r.json() : null;
  }

  AttributeSet attributesOf(String json, AttributeSet pathAttributes) {
    AttributeSet a = getAttributeExtractor().fromResource(json);
    if (!a.containsKey(KubernetesAttributesExtractor.PLURAL) && pathAttributes != null) {
      a = AttributeSet.merge(pathAttributes, a);
    }
    return a;
  }

  /** One object by its identity from the index; lists and anything unusual go to the mock. */
  @Override
  public MockResponse handleGet(String path) {
    if (path.indexOf('?') < 0 && !unindexed) {
      AttributeSet query = getKey(path);
      if (id(query) != null) {
        Map.Entry<AttributeSet, String> e = findResource(query);
        return e == null
            ? new MockResponse().setResponseCode(404)
            : new MockResponse().setResponseCode(200).setBody(e.getValue());
      }
    }
    return super.handleGet(path);
  }

  /** The mock's handlers look up the object a write addresses through here. */
  @Override
  public Map.Entry<AttributeSet, String> findResource(AttributeSet query) {
    String id = id(query);
    if (id == null || unindexed) {
      return super.findResource(query);
    }
    for (AttributeSet key : index.getOrDefault(id, Set.of())) {
      String value = getMap().get(key);
      if (value != null && key.matches(query)) {
        return Map.entry(key, value);
      }
    }
    return null;
  }

  @Override
  public void processEvent(
      String path,
      AttributeSet pathAttributes,
      AttributeSet oldAttributes,
      GenericKubernetesResource resource,
      String newState) {
    String existing = oldAttributes == null ? null : getMap().get(oldAttributes);
    String state = newState == null ? null : fixDeletionTimestamp(newState);
    super.processEvent(path, pathAttributes, oldAttributes, resource, state);
    reindex(oldAttributes, state == null ? null : attributesOf(state, pathAttributes), state);
    if (path.contains("/customresourcedefinitions")) {
      crdChanges.incrementAndGet();
    }
    if (Objects.equals(existing, state)) {
      return;
    }
    if (state == null) {
      JsonNode gone = Json.parse(existing);
      Json.metadata(gone).put("resourceVersion", String.valueOf(requestResourceVersion()));
      hub.publish("DELETED", gone, oldAttributes);
    } else {
      hub.publish(
          existing == null ? "ADDED" : "MODIFIED",
          Json.parse(state),
          attributesOf(state, pathAttributes));
    }
  }

  private void reindex(AttributeSet removed, AttributeSet added, String state) {
    if (removed != null && !getMap().containsKey(removed)) {
      String id = id(removed);
      if (id != null) {
        index.computeIfPresent(
            id,
            (k, keys) -> {
              keys.remove(removed);
              return keys.isEmpty() ? null : keys;
            });
      }
    }
    if (added == null) {
      return;
    }
    AttributeSet stored = getMap().containsKey(added) ? added : keyOf(state);
    String id = stored == null ? null : id(stored);
    if (id == null) {
      unindexed = true;
      return;
    }
    index.computeIfAbsent(id, k -> ConcurrentHashMap.newKeySet()).add(stored);
  }

  /**
   * The key the mock stored {@code state} under, when it is not the one computed here (a scan,
   * rare).
   */
  private AttributeSet keyOf(String state) {
    return getMap().entrySet().stream()
        .filter(e -> e.getValue() == state || e.getValue().equals(state))
        .map(Map.Entry::getKey)
        .findFirst()
        .orElse(null);
  }

  /** plural|namespace|name, or null when the set does not name one object. */
  private static String id(AttributeSet a) {
    Attribute plural = a.getAttribute(KubernetesAttributesExtractor.PLURAL);
    Attribute name = a.getAttribute(KubernetesAttributesExtractor.NAME);
    if (plural == null || name == null) {
      return null;
    }
    Attribute ns = a.getAttribute(KubernetesAttributesExtractor.NAMESPACE);
    return plural.getValues() + "|" + (ns == null ? "" : ns.getValues()) + "|" + name.getValues();
  }

  /** The mock stamps deletionTimestamp as a local time without zone; kubectl needs RFC 3339. */
  private static String fixDeletionTimestamp(String state) {
    JsonNode n = Json.parse(state);
    String ts = Json.text(n, "metadata", "deletionTimestamp");
    if (ts == null || ts.endsWith("Z")) {
      return state;
    }
    Json.metadata(n)
        .put("deletionTimestamp", Instant.now().truncatedTo(ChronoUnit.SECONDS).toString());
    return Json.write(n);
  }
}
