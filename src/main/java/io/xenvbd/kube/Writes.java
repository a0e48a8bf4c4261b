package io.xenvbd.kube;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.node.ObjectNode;
import java.net.URLEncoder;
import java.nio.charset.StandardCharsets;
import java.util.List;
import java.util.Objects;
import java.util.concurrent.locks.ReentrantLock;
import java.util.function.Supplier;

/**
 * Create, update, patch and delete. Every patch is computed here (merge, JSON, apply) and stored as
 * an update, so admission sees the whole new object. A write is read, computed and admitted without
 * a lock, then stored under one lock if the object is still at the resourceVersion it was computed
 * from (else computed again): a patch never conflicts, a stale update gets a real 409.
 */
final class Writes {
  private final CrudStore store;
  private final Admission admission;

  /**
   * Attempts without the lock of an update or patch whose object keeps changing, before one under
   * it.
   */
  private static final int OPTIMISTIC_ATTEMPTS = 5;

  private final ReentrantLock lock = new ReentrantLock();

  Writes(CrudStore store, Admission admission) {
    this.store = store;
    this.admission = admission;
  }

  ApiHandler.Reply create(ResourcePath rp, Query q, JsonNode object) {
    if (object == null || !object.isObject()) {
      throw new ApiException(400, "BadRequest", "the request body must be a JSON object");
    }
    if (rp.group().equals("authorization.k8s.io")) {
      return new ApiHandler.Reply(201, Admission.review(object));
    }
    String ns = Json.text(object, "metadata", "namespace");
    if (rp.namespace() != null && ns != null && !ns.isEmpty() && !ns.equals(rp.namespace())) {
      throw new ApiException(
          400,
          "BadRequest",
          "the namespace of the provided object does not match the namespace "
              + "sent on the request");
    }
    Admission.Result admitted =
        admission.admit(
            rp.withName(Json.text(object, "metadata", "name")),
            object,
            null,
            q.get("fieldValidation"));
    if (isDryRun(q)) {
      return new ApiHandler.Reply(201, admitted.object(), admitted.warnings());
    }
    lock.lock();
    try {
      CrudStore.Reply r =
          store.call(
              "POST", rp.collectionPath(), "application/json", Json.write(admitted.object()));
      if (r.code() == 409) {
        throw ApiException.alreadyExists(rp, Json.text(object, "metadata", "name"));
      }
      return reply(r, admitted.warnings());
    } finally {
      lock.unlock();
    }
  }

  /**
   * PUT. Admission runs outside the lock, against the object as read; the write itself happens
   * under the lock only if the object is still at that resourceVersion, otherwise it is computed
   * again (as kube-apiserver's guaranteed update does). The lock is held for the store write alone,
   * except for an object so busy that it lost the race several times (see guaranteed).
   */
  ApiHandler.Reply update(ResourcePath rp, Query q, JsonNode object) {
    if (object == null || !object.isObject()) {
      throw new ApiException(400, "BadRequest", "the request body must be a JSON object");
    }
    return guaranteed(() -> tryUpdate(rp, q, object, store.get(rp.objectPath())));
  }

  /**
   * Runs {@code attempt} (null: the object changed before it could be stored) a few times without
   * the lock, then once under it, where nothing else can write: a write on a busy object always
   * lands.
   */
  private ApiHandler.Reply guaranteed(Supplier<ApiHandler.Reply> attempt) {
    for (int i = 0; i < OPTIMISTIC_ATTEMPTS; i++) {
      ApiHandler.Reply r = attempt.get();
      if (r != null) {
        return r;
      }
    }
    lock.lock();
    try {
      ApiHandler.Reply r = attempt.get();
      if (r == null) {
        throw new IllegalStateException("the object changed while the write lock was held");
      }
      return r;
    } finally {
      lock.unlock();
    }
  }

  /**
   * The update computed against {@code current}; null when the object changed before it could be
   * stored.
   */
  private ApiHandler.Reply tryUpdate(ResourcePath rp, Query q, JsonNode object, JsonNode current) {
    if (current == null) {
      throw ApiException.notFound(rp);
    }
    String currentRv = Json.text(current, "metadata", "resourceVersion");
    String rv = Json.text(object, "metadata", "resourceVersion");
    if (rv != null && !rv.isEmpty() && !rv.equals(currentRv)) {
      throw ApiException.conflict(rp, rp.name());
    }
    ObjectNode candidate;
    if (rp.isStatus()) {
      candidate = (ObjectNode) current.deepCopy();
      setOrRemove(candidate, "status", object.get("status"));
    } else {
      candidate = (ObjectNode) object.deepCopy();
      if (admission.hasStatusSubresource(rp)) {
        setOrRemove(candidate, "status", current.get("status"));
      }
    }
    Admission.Result admitted = admission.admit(rp, candidate, current, q.get("fieldValidation"));
    Json.metadata(admitted.object()).put("resourceVersion", currentRv);
    if (isDryRun(q)) {
      return new ApiHandler.Reply(200, admitted.object(), admitted.warnings());
    }
    String path = rp.objectPath() + (rp.isStatus() ? "/status" : "");
    String json = Json.write(admitted.object());
    CrudStore.Reply r;
    lock.lock();
    try {
      JsonNode now = store.get(rp.objectPath());
      if (now == null) {
        throw ApiException.notFound(rp);
      }
      if (!Objects.equals(currentRv, Json.text(now, "metadata", "resourceVersion"))) {
        return null;
      }
      r = store.call("PUT", path, "application/json", json);
    } finally {
      lock.unlock();
    }
    if (r.code() == 409) {
      throw ApiException.conflict(rp, rp.name());
    }
    if (r.code() == 200 && r.body().isEmpty()) {
      // Last finalizer removed from an object being deleted: it is gone now.
      return new ApiHandler.Reply(200, admitted.object(), admitted.warnings());
    }
    return reply(r, admitted.warnings());
  }

  /**
   * PATCH: computed against the object as read and stored only if it did not change meanwhile (see
   * update).
   */
  ApiHandler.Reply patch(ResourcePath rp, Query q, String contentType, String body) {
    String type = MergePatch.mediaType(contentType);
    return guaranteed(
        () -> {
          JsonNode current = store.get(rp.objectPath());
          JsonNode patched;
          if (type.equals(MergePatch.APPLY)) {
            JsonNode applied = Json.parseYaml(body);
            String manager = q.get("fieldManager") == null ? "unknown" : q.get("fieldManager");
            if (current == null) {
              if (rp.isStatus()) {
                throw ApiException.notFound(rp);
              }
              ObjectNode base = Json.object();
              base.set("apiVersion", applied.get("apiVersion"));
              base.set("kind", applied.get("kind"));
              Json.metadata(base).put("name", rp.name());
              return create(rp.withName(null), q, Apply.apply(base, applied, manager, false));
            }
            patched = Apply.apply(current, applied, manager, rp.isStatus());
          } else {
            if (current == null) {
              throw ApiException.notFound(rp);
            }
            patched =
                switch (type) {
                  case MergePatch.MERGE, MergePatch.STRATEGIC ->
                      MergePatch.merge(current, Json.parse(body));
                  case MergePatch.JSON_PATCH -> MergePatch.jsonPatch(current, Json.parse(body));
                  default ->
                      throw new ApiException(
                          415,
                          "UnsupportedMediaType",
                          "the body of the request was in an unknown "
                              + "format - accepted media types include: application/json-patch+json, application/merge-patch+json, "
                              + "application/apply-patch+yaml");
                };
          }
          return tryUpdate(rp, q, patched, current);
        });
  }

  ApiHandler.Reply delete(ResourcePath rp, Query q) {
    if (rp.name() == null) {
      return deleteCollection(rp, q);
    }
    lock.lock();
    try {
      CrudStore.Reply r = store.call("DELETE", rp.objectPath(), null, null);
      if (r.code() == 404) {
        throw ApiException.notFound(rp);
      }
      JsonNode after = store.get(rp.objectPath());
      return new ApiHandler.Reply(200, after != null ? after : r.json());
    } finally {
      lock.unlock();
    }
  }

  /** DELETE on a collection: each selected object is deleted as if on its own (finalizers hold). */
  private ApiHandler.Reply deleteCollection(ResourcePath rp, Query q) {
    String labels = q.get("labelSelector");
    String path =
        rp.collectionPath()
            + (labels == null || labels.isEmpty()
                ? ""
                : "?labelSelector=" + URLEncoder.encode(labels, StandardCharsets.UTF_8));
    JsonNode list = store.call("GET", path, null, null).json();
    FieldSelector fields = FieldSelector.parse(q.get("fieldSelector"));
    ObjectNode out = Json.object().put("apiVersion", rp.apiVersion()).put("kind", "List");
    out.putObject("metadata");
    var items = out.putArray("items");
    for (JsonNode item : list.path("items")) {
      if (fields.matches(item)) {
        ResourcePath one =
            new ResourcePath(
                rp.group(),
                rp.version(),
                Json.text(item, "metadata", "namespace"),
                rp.plural(),
                Json.text(item, "metadata", "name"),
                null);
        items.add(delete(one, q).body());
      }
    }
    return new ApiHandler.Reply(200, out);
  }

  private static boolean isDryRun(Query q) {
    return q.get("dryRun") != null && !q.get("dryRun").isEmpty();
  }

  private static void setOrRemove(ObjectNode o, String field, JsonNode value) {
    if (value == null || value.isNull()) {
      o.remove(field);
    } else {
      o.set(field, value.deepCopy());
    }
  }

  private static ApiHandler.Reply reply(CrudStore.Reply r, List<String> warnings) {
    JsonNode body = r.json();
    if (r.code() >= 400 && (body == null || !"Status".equals(Json.text(body, "kind")))) {
      body = new ApiException(r.code(), "BadRequest", r.body()).toStatus();
    }
    return new ApiHandler.Reply(r.code(), body, warnings);
  }
}
