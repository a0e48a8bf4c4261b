package io.xenvbd.kube;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.node.ObjectNode;
import io.vertx.core.Handler;
import io.vertx.core.Vertx;
import io.vertx.core.http.HttpMethod;
import io.vertx.core.http.HttpServerRequest;
import io.vertx.core.http.HttpServerResponse;
import java.util.List;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * The HTTP front of the embedded API server: discovery, OpenAPI and watches are answered here,
 * reads and writes go to {@link Writes} and the CRUD store.
 */
final class ApiHandler implements Handler<HttpServerRequest> {
  private static final Logger LOG = LoggerFactory.getLogger(ApiHandler.class);
  private final Vertx vertx;
  private final Discovery discovery;
  private final OpenApi openApi;
  private final WatchStream watches;
  private final Reads reads;
  private final Writes writes;
  private final AuditLog audit;

  ApiHandler(
      Vertx vertx,
      Discovery discovery,
      OpenApi openApi,
      WatchStream watches,
      Reads reads,
      Writes writes,
      AuditLog audit) {
    this.vertx = vertx;
    this.discovery = discovery;
    this.openApi = openApi;
    this.watches = watches;
    this.reads = reads;
    this.writes = writes;
    this.audit = audit;
  }

  record Reply(int code, JsonNode body, List<String> warnings) {
    Reply(int code, JsonNode body) {
      this(code, body, List.of());
    }
  }

  static final String PROTOBUF = "application/vnd.kubernetes.protobuf";

  @Override
  public void handle(HttpServerRequest req) {
    String path = req.path();
    LOG.debug("{} {} {}", req.method(), req.uri(), req.getHeader("Content-Type"));
    Query q = Query.parse(req.query());
    try {
      if (req.method() == HttpMethod.GET) {
        JsonNode fixed =
            path.startsWith("/openapi") ? openApi.answer(path) : discovery.answer(path);
        if (fixed != null) {
          send(req, new Reply(200, fixed));
          return;
        }
        if (path.equals("/healthz") || path.equals("/livez") || path.equals("/readyz")) {
          req.response().putHeader("Content-Type", "text/plain").end("ok");
          return;
        }
      }
      ResourcePath rp = ResourcePath.parse(path);
      if (rp == null) {
        throw new ApiException(404, "NotFound", "the server could not find the requested resource");
      }
      boolean watch = req.method() == HttpMethod.GET && q.isTrue("watch");
      // Only resource requests: discovery, OpenAPI and health are open to every authenticated user
      // (system:discovery).
      audit.add(AuditEvent.of(req.getHeader("User-Agent"), req.method().name(), watch, rp));
      if (watch) {
        String accept = req.getHeader("Accept");
        watches.serve(
            req, rp, q, o -> Tables.wanted(accept) ? reads.table(rp, List.of(o), null) : o);
        return;
      }
      // Validation and CEL compile can take a while the first time: keep them off the event loop.
      req.body()
          .onSuccess(
              buf ->
                  vertx
                      .executeBlocking(
                          () -> {
                            try {
                              return dispatch(req, rp, q, buf == null ? "" : buf.toString());
                            } catch (ApiException e) {
                              return new Reply(e.code(), e.toStatus());
                            } catch (RuntimeException e) {
                              LOG.warn("{} {} failed", req.method(), req.uri(), e);
                              return new Reply(
                                  500,
                                  new ApiException(500, "InternalError", e.toString()).toStatus());
                            }
                          },
                          false)
                      .onSuccess(reply -> send(req, reply)));
    } catch (ApiException e) {
      send(req, new Reply(e.code(), e.toStatus()));
    } catch (RuntimeException e) {
      LOG.warn("{} {} failed", req.method(), req.uri(), e);
      send(req, new Reply(500, new ApiException(500, "InternalError", e.toString()).toStatus()));
    }
  }

  private Reply dispatch(HttpServerRequest req, ResourcePath rp, Query q, String body) {
    String method = req.method().name();
    String contentType = req.getHeader("Content-Type");
    if (contentType != null && contentType.startsWith(PROTOBUF)) {
      // kubectl create namespace (and other typed built-in writes) send protobuf; client-go falls
      // back to JSON only after a 415 to CBOR, so say plainly what works instead.
      throw new ApiException(
          415,
          "UnsupportedMediaType",
          "local mode's API reads JSON and YAML only, not "
              + PROTOBUF
              + ": write the object as a manifest and use kubectl apply -f");
    }
    return switch (method) {
      case "GET" -> reads.get(rp, q, req.getHeader("Accept"));
      case "POST" -> writes.create(rp, q, Json.parse(body));
      case "PUT" -> writes.update(rp, q, Json.parse(body));
      case "PATCH" -> writes.patch(rp, q, req.getHeader("Content-Type"), body);
      case "DELETE" -> writes.delete(rp, q);
      default -> throw new ApiException(405, "MethodNotAllowed", method + " is not supported");
    };
  }

  private static void send(HttpServerRequest req, Reply reply) {
    HttpServerResponse resp = req.response();
    LOG.debug("{} {} -> {}", req.method(), req.uri(), reply.code());
    if (resp.ended() || resp.closed()) {
      return;
    }
    resp.setStatusCode(reply.code()).putHeader("Content-Type", "application/json");
    for (String w : reply.warnings()) {
      resp.headers().add("Warning", "299 - \"" + w.replace("\"", "\\\"") + "\"");
    }
    resp.end(reply.body() == null ? "" : Json.write(reply.body()));
  }

  static ObjectNode statusSuccess() {
    return Json.object().put("kind", "Status").put("apiVersion", "v1").put("status", "Success");
  }
}
