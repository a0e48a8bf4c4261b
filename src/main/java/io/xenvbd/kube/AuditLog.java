package io.xenvbd.kube;

import java.util.ArrayDeque;
import java.util.List;

/**
 * The last {@link #CAPACITY} audit events, oldest dropped first, so that a long local-mode run
 * keeps flat memory. Requests arrive on Vert.x event-loop threads, hence the lock.
 */
final class AuditLog {
  static final int CAPACITY = 100_000;
  private final ArrayDeque<AuditEvent> events = new ArrayDeque<>();
  private final int capacity;

  AuditLog() {
    this(CAPACITY);
  }

  AuditLog(int capacity) {
    this.capacity = capacity;
  }

  synchronized void add(AuditEvent e) {
    if (events.size() == capacity) {
      events.removeFirst();
    }
    events.addLast(e);
  }

  synchronized List<AuditEvent> snapshot() {
    return List.copyOf(events);
  }

  synchronized void clear() {
    events.clear();
  }
}
