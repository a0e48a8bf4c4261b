package io.xenvbd.kube;

import com.fasterxml.jackson.databind.JsonNode;
import io.fabric8.mockwebserver.crud.AttributeSet;
import java.util.ArrayDeque;
import java.util.ArrayList;
import java.util.Deque;
import java.util.List;
import java.util.Set;
import java.util.concurrent.CopyOnWriteArraySet;

/**
 * Every stored change, in resourceVersion order, fanned out to open watches. A bounded history lets
 * a watch that starts at the resourceVersion of a list see what changed in between (as
 * kube-apiserver's watch cache does); an older resourceVersion gets 410 Gone.
 */
final class WatchHub {
  record Event(long resourceVersion, String type, JsonNode object, AttributeSet attributes) {}

  interface Watcher {
    boolean matches(AttributeSet attributes, JsonNode object);

    void send(Event event);
  }

  static final class Gone extends Exception {
    Gone(long requested, long oldest) {
      super("too old resource version: " + requested + " (" + oldest + ")");
    }
  }

  private static final int HISTORY = 2000;
  private final Deque<Event> history = new ArrayDeque<>();
  private final Set<Watcher> watchers = new CopyOnWriteArraySet<>();
  private long evictedUpTo;

  synchronized void publish(String type, JsonNode object, AttributeSet attributes) {
    long rv = Long.parseLong(Json.text(object, "metadata", "resourceVersion"));
    Event e = new Event(rv, type, object, attributes);
    history.addLast(e);
    if (history.size() > HISTORY) {
      evictedUpTo = history.removeFirst().resourceVersion();
    }
    for (Watcher w : watchers) {
      if (w.matches(attributes, object)) {
        w.send(e);
      }
    }
  }

  /** Registers a watcher and returns the events after {@code sinceRv} that it must see first. */
  synchronized List<Event> register(Watcher w, long sinceRv) throws Gone {
    if (sinceRv < evictedUpTo) {
      throw new Gone(sinceRv, evictedUpTo + 1);
    }
    List<Event> replay = new ArrayList<>();
    for (Event e : history) {
      if (e.resourceVersion() > sinceRv && w.matches(e.attributes(), e.object())) {
        replay.add(e);
      }
    }
    watchers.add(w);
    return replay;
  }

  void remove(Watcher w) {
    watchers.remove(w);
  }

  int watcherCount() {
    return watchers.size();
  }
}
