package io.xenvbd.kube;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.node.ObjectNode;
import java.util.List;
import java.util.concurrent.locks.ReentrantLock;

/**
 * Create, update, patch and delete. Every patch is computed here (merge, JSON, apply) and stored
 * as an update, so admission sees the whole new object and a write is one read-modify-write under
 * one lock: a patch never conflicts, a stale update gets a real 409 Conflict.
 */
final class Writes {
  private final CrudStore store;
  private final Admission admission;
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
      throw new ApiException(400, "BadRequest", "the namespace of the provided object does not match the namespace "
          + "sent on the request");
    }
    Admission.Result admitted = admission.admit(rp.withName(Json.text(object, "metadata", "name")), object, null,
        q.get("fieldValidation"));
    if (isDryRun(q)) {
      return new ApiHandler.Reply(201, admitted.object(), admitted.warnings());
    }
    lock.lock();
    try {
      CrudStore.Reply r = store.call("POST", rp.collectionPath(), "application/json", Json.write(admitted.object()));
      if (r.code() == 409) {
        throw ApiException.alreadyExists(rp, Json.text(object, "metadata", "name"));
      }
      return reply(r, admitted.warnings());
    } finally {
      lock.unlock();
    }
  }

  ApiHandler.Reply update(ResourcePath rp, Query q, JsonNode object) {
    if (object == null || !object.isObject()) {
      throw new ApiException(400, "BadRequest", "the request body must be a JSON object");
    }
    lock.lock();
    try {
      JsonNode current = store.get(rp.objectPath());
      if (current == null) {
        throw ApiException.notFound(rp);
      }
      String rv = Json.text(object, "metadata", "resourceVersion");
      if (rv != null && !rv.isEmpty() && !rv.equals(Json.text(current, "metadata", "resourceVersion"))) {
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
      Json.metadata(admitted.object()).put("resourceVersion", Json.text(current, "metadata", "resourceVersion"));
      if (isDryRun(q)) {
        return new ApiHandler.Reply(200, admitted.object(), admitted.warnings());
      }
      String path = rp.objectPath() + (rp.isStatus() ? "/status" : "");
      CrudStore.Reply r = store.call("PUT", path, "application/json", Json.write(admitted.object()));
      if (r.code() == 409) {
        throw ApiException.conflict(rp, rp.name());
      }
      if (r.code() == 200 && r.body().isEmpty()) {
        // Last finalizer removed from an object being deleted: it is gone now.
        return new ApiHandler.Reply(200, admitted.object(), admitted.warnings());
      }
      return reply(r, admitted.warnings());
    } finally {
      lock.unlock();
    }
  }

  ApiHandler.Reply patch(ResourcePath rp, Query q, String contentType, String body) {
    String type = MergePatch.mediaType(contentType);
    lock.lock();
    try {
      JsonNode current = store.get(rp.objectPath());
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
        return update(rp, q, Apply.apply(current, applied, manager, rp.isStatus()));
      }
      if (current == null) {
        throw ApiException.notFound(rp);
      }
      JsonNode patched = switch (type) {
        case MergePatch.MERGE, MergePatch.STRATEGIC -> MergePatch.merge(current, Json.parse(body));
        case MergePatch.JSON_PATCH -> MergePatch.jsonPatch(current, Json.parse(body));
        default -> throw new ApiException(415, "UnsupportedMediaType", "the body of the request was in an unknown "
            + "format - accepted media types include: application/json-patch+json, application/merge-patch+json, "
            + "application/apply-patch+yaml");
      };
      return update(rp, q, patched);
    } finally {
      lock.unlock();
    }
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
    String path = rp.collectionPath() + (labels == null || labels.isEmpty() ? ""
        : "?labelSelector=" + java.net.URLEncoder.encode(labels, java.nio.charset.StandardCharsets.UTF_8));
    JsonNode list = store.call("GET", path, null, null).json();
    FieldSelector fields = FieldSelector.parse(q.get("fieldSelector"));
    ObjectNode out = Json.object().put("apiVersion", rp.apiVersion()).put("kind", "List");
    out.putObject("metadata");
    var items = out.putArray("items");
    for (JsonNode item : list.path("items")) {
      if (fields.matches(item)) {
        ResourcePath one = new ResourcePath(rp.group(), rp.version(), Json.text(item, "metadata", "namespace"),
            rp.plural(), Json.text(item, "metadata", "name"), null);
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
