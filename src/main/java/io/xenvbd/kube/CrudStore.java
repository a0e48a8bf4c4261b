package io.xenvbd.kube;

import static java.nio.charset.StandardCharsets.UTF_8;

import com.fasterxml.jackson.databind.JsonNode;
import io.fabric8.kubernetes.api.model.GenericKubernetesResource;
import io.fabric8.kubernetes.client.server.mock.KubernetesAttributesExtractor;
import io.fabric8.kubernetes.client.server.mock.KubernetesCrudDispatcher;
import io.fabric8.mockwebserver.crud.AttributeSet;
import io.fabric8.mockwebserver.dsl.HttpMethod;
import io.fabric8.mockwebserver.http.Buffer;
import io.fabric8.mockwebserver.http.Headers;
import io.fabric8.mockwebserver.http.MockResponse;
import io.fabric8.mockwebserver.http.RecordedRequest;
import java.time.Instant;
import java.time.temporal.ChronoUnit;
import java.util.Objects;

/**
 * The fabric8 mock server's CRUD store, used in-process (no MockWebServer, so no request log
 * that grows): every stored change is also published to the {@link WatchHub}, with a fresh
 * resourceVersion for deletions, as kube-apiserver does.
 */
final class CrudStore extends KubernetesCrudDispatcher {
  record Reply(int code, String body) {
    JsonNode json() {
      return Json.parse(body);
    }
  }

  private final WatchHub hub;

  CrudStore(WatchHub hub) {
    this.hub = hub;
  }

  Reply call(String method, String path, String contentType, String body) {
    Headers.Builder headers = Headers.builder();
    if (contentType != null) {
      headers.add("Content-Type", contentType);
    }
    byte[] bytes = body == null ? new byte[0] : body.getBytes(UTF_8);
    MockResponse r = dispatch(new RecordedRequest("HTTP/1.1", HttpMethod.valueOf(method), path, headers.build(),
        new Buffer(bytes)));
    Buffer b = r.getBody();
    return new Reply(r.code(), b == null || b.getBytes() == null ? "" : new String(b.getBytes(), UTF_8));
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

  @Override
  public void processEvent(String path, AttributeSet pathAttributes, AttributeSet oldAttributes,
      GenericKubernetesResource resource, String newState) {
    String existing = oldAttributes == null ? null : getMap().get(oldAttributes);
    String state = newState == null ? null : fixDeletionTimestamp(newState);
    super.processEvent(path, pathAttributes, oldAttributes, resource, state);
    if (Objects.equals(existing, state)) {
      return;
    }
    if (state == null) {
      JsonNode gone = Json.parse(existing);
      Json.metadata(gone).put("resourceVersion", String.valueOf(requestResourceVersion()));
      hub.publish("DELETED", gone, oldAttributes);
    } else {
      hub.publish(existing == null ? "ADDED" : "MODIFIED", Json.parse(state), attributesOf(state, pathAttributes));
    }
  }

  /** The mock stamps deletionTimestamp as a local time without zone; kubectl needs RFC 3339. */
  private static String fixDeletionTimestamp(String state) {
    JsonNode n = Json.parse(state);
    String ts = Json.text(n, "metadata", "deletionTimestamp");
    if (ts == null || ts.endsWith("Z")) {
      return state;
    }
    Json.metadata(n).put("deletionTimestamp", Instant.now().truncatedTo(ChronoUnit.SECONDS).toString());
    return Json.write(n);
  }
}
