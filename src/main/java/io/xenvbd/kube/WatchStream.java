package io.xenvbd.kube;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.node.ObjectNode;
import io.fabric8.mockwebserver.crud.AttributeSet;
import io.vertx.core.Vertx;
import io.vertx.core.http.HttpServerRequest;
import io.vertx.core.http.HttpServerResponse;
import io.vertx.core.http.ServerWebSocket;
import java.net.URLEncoder;
import java.nio.charset.StandardCharsets;
import java.util.ArrayList;
import java.util.List;
import java.util.function.UnaryOperator;

/**
 * A Kubernetes watch: newline-delimited JSON events on a chunked HTTP response (what kubectl uses)
 * or one event per WebSocket text message (what the fabric8 client uses). Honours resourceVersion
 * (no replay at or below it), labelSelector, fieldSelector and timeoutSeconds.
 */
final class WatchStream {
  private static final org.slf4j.Logger LOG = org.slf4j.LoggerFactory.getLogger(WatchStream.class);
  private final Vertx vertx;
  private final WatchHub hub;
  private final CrudStore store;

  WatchStream(Vertx vertx, WatchHub hub, CrudStore store) {
    this.vertx = vertx;
    this.hub = hub;
    this.store = store;
  }

  /** Where the events go; writes are queued until the replay is out, so order holds. */
  private abstract static class Sink implements WatchHub.Watcher {
    private final AttributeSet query;
    private final FieldSelector fields;
    private final UnaryOperator<JsonNode> transform;
    private List<WatchHub.Event> pending = new ArrayList<>();
    private boolean closed;

    Sink(AttributeSet query, FieldSelector fields, UnaryOperator<JsonNode> transform) {
      this.query = query;
      this.fields = fields;
      this.transform = transform;
    }

    abstract void write(String json);

    abstract void end();

    @Override
    public boolean matches(AttributeSet attributes, JsonNode object) {
      return attributes.matches(query) && fields.matches(object);
    }

    @Override
    public synchronized void send(WatchHub.Event e) {
      if (pending != null) {
        pending.add(e);
      } else if (!closed) {
        write(eventJson(e.type(), transform.apply(e.object())));
      }
    }

    synchronized void start(List<WatchHub.Event> first) {
      List<WatchHub.Event> queued = pending;
      pending = null;
      for (WatchHub.Event e : first) {
        send(e);
      }
      for (WatchHub.Event e : queued) {
        send(e);
      }
    }

    synchronized void close() {
      if (!closed) {
        closed = true;
        end();
      }
    }
  }

  static String eventJson(String type, JsonNode object) {
    ObjectNode e = Json.object();
    e.put("type", type);
    e.set("object", object);
    return Json.write(e);
  }

  void serve(HttpServerRequest req, ResourcePath rp, Query q, UnaryOperator<JsonNode> transform) {
    String labels = q.get("labelSelector");
    String listPath =
        rp.collectionPath()
            + (labels == null || labels.isEmpty()
                ? ""
                : "?labelSelector=" + URLEncoder.encode(labels, StandardCharsets.UTF_8));
    AttributeSet query = store.getKey(listPath);
    FieldSelector fields =
        FieldSelector.parse(
            rp.name() == null ? q.get("fieldSelector") : "metadata.name=" + rp.name());
    Sink sink =
        isWebSocket(req)
            ? webSocketSink(req, query, fields, transform)
            : httpSink(req, query, fields, transform);
    String rv = q.get("resourceVersion");
    List<WatchHub.Event> first = new ArrayList<>();
    long since;
    if (rv == null || rv.isEmpty() || rv.equals("0")) {
      // No resourceVersion: the current state as ADDED events, then changes (kube-apiserver
      // semantics).
      JsonNode list = store.call("GET", listPath, null, null).json();
      since = Long.parseLong(Json.text(list, "metadata", "resourceVersion"));
      for (JsonNode item : list.path("items")) {
        if (fields.matches(item)) {
          first.add(new WatchHub.Event(since, "ADDED", item, query));
        }
      }
    } else {
      since = Long.parseLong(rv);
    }
    try {
      first.addAll(hub.register(sink, since));
    } catch (WatchHub.Gone gone) {
      sink.start(List.of());
      sink.write(
          eventJson("ERROR", new ApiException(410, "Expired", gone.getMessage()).toStatus()));
      sink.close();
      return;
    }
    sink.start(first);
    String timeout = q.get("timeoutSeconds");
    if (timeout != null && !timeout.isEmpty() && Long.parseLong(timeout) > 0) {
      vertx.setTimer(
          Long.parseLong(timeout) * 1000,
          id -> {
            hub.remove(sink);
            sink.close();
          });
    }
  }

  private Sink httpSink(
      HttpServerRequest req,
      AttributeSet query,
      FieldSelector fields,
      UnaryOperator<JsonNode> transform) {
    HttpServerResponse resp = req.response();
    resp.setChunked(true).putHeader("Content-Type", "application/json").setStatusCode(200);
    // Headers go out now: client-go waits for them before it counts the watch as started.
    resp.writeHead();
    Sink sink =
        new Sink(query, fields, transform) {
          @Override
          void write(String json) {
            resp.write(json + "\n");
          }

          @Override
          void end() {
            if (!resp.ended() && !resp.closed()) {
              resp.end();
            }
          }
        };
    resp.closeHandler(
        v -> {
          hub.remove(sink);
          sink.close();
        });
    return sink;
  }

  private Sink webSocketSink(
      HttpServerRequest req,
      AttributeSet query,
      FieldSelector fields,
      UnaryOperator<JsonNode> transform) {
    List<String> early = new ArrayList<>();
    ServerWebSocket[] socket = new ServerWebSocket[1];
    Sink sink =
        new Sink(query, fields, transform) {
          @Override
          void write(String json) {
            synchronized (early) {
              if (socket[0] == null) {
                early.add(json);
              } else {
                socket[0].writeTextMessage(json);
              }
            }
          }

          @Override
          void end() {
            synchronized (early) {
              if (socket[0] != null && !socket[0].isClosed()) {
                socket[0].close();
              }
            }
          }
        };
    req.toWebSocket()
        .onSuccess(
            ws -> {
              synchronized (early) {
                socket[0] = ws;
                early.forEach(ws::writeTextMessage);
                early.clear();
              }
              ws.closeHandler(
                  v -> {
                    hub.remove(sink);
                    sink.close();
                  });
            })
        .onFailure(
            err -> {
              LOG.debug("WebSocket upgrade for a watch failed", err);
              hub.remove(sink);
            });
    return sink;
  }

  static boolean isWebSocket(HttpServerRequest req) {
    String upgrade = req.getHeader("Upgrade");
    return upgrade != null && upgrade.toLowerCase().contains("websocket");
  }
}
