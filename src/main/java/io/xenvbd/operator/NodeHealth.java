package io.xenvbd.operator;

import io.xenvbd.api.Conditions;
import io.xenvbd.api.Dom0Node;
import io.xenvbd.api.Dom0NodeStatus;
import java.time.Clock;
import java.time.Duration;
import java.time.Instant;
import java.time.format.DateTimeParseException;
import java.util.Optional;

/**
 * Whether a Dom0Node's agent is alive, judged from its heartbeat (the agent never marks itself
 * dead).
 */
final class NodeHealth {
  private NodeHealth() {}

  static final int DEFAULT_HEARTBEAT_SECONDS = 10;
  static final int MISSED_HEARTBEATS = 3;

  /** Empty when the node is healthy; otherwise why not, in words a person can act on. */
  static Optional<String> problem(Dom0Node node, Clock clock) {
    String name = node.getMetadata().getName();
    Dom0NodeStatus status = node.getStatus();
    if (status == null || status.agent() == null || status.agent().lastHeartbeat() == null) {
      return Optional.of("the agent of dom0 node " + name + " has not registered yet");
    }
    if (Conditions.find(status.conditions(), Conditions.READY)
        .map(c -> Conditions.FALSE.equals(c.getStatus()))
        .orElse(false)) {
      return Optional.of("Dom0Node " + name + " reports Ready=False");
    }
    Instant last;
    try {
      last = Instant.parse(status.agent().lastHeartbeat());
    } catch (DateTimeParseException e) {
      return Optional.of(
          "Dom0Node "
              + name
              + " has an unreadable lastHeartbeat '"
              + status.agent().lastHeartbeat()
              + "'");
    }
    int seconds = heartbeatSeconds(node);
    if (stale(last, seconds, clock)) {
      // no timestamp in the message: it (and so the status) must stay the same between reconciles
      return Optional.of(
          "the agent of dom0 node "
              + name
              + " missed its heartbeats (expected every "
              + seconds
              + "s, none for over "
              + seconds * MISSED_HEARTBEATS
              + "s): check that the xenvbd agent runs on "
              + name);
    }
    return Optional.empty();
  }

  /**
   * The time of the node's last heartbeat when the agent has missed {@value #MISSED_HEARTBEATS} in
   * a row by {@code clock}; empty while it heartbeats, and for a node that never registered or
   * whose lastHeartbeat is unreadable (those are {@link #problem}s of their own).
   */
  static Optional<Instant> missedSince(Dom0Node node, Clock clock) {
    Dom0NodeStatus status = node.getStatus();
    if (status == null || status.agent() == null || status.agent().lastHeartbeat() == null)
      return Optional.empty();
    try {
      Instant last = Instant.parse(status.agent().lastHeartbeat());
      return stale(last, heartbeatSeconds(node), clock) ? Optional.of(last) : Optional.empty();
    } catch (DateTimeParseException e) {
      return Optional.empty();
    }
  }

  /** The interval the node's agent announces, or the default when it announces none. */
  static int heartbeatSeconds(Dom0Node node) {
    Integer s =
        node.getStatus() == null || node.getStatus().agent() == null
            ? null
            : node.getStatus().agent().heartbeatSeconds();
    return s == null || s <= 0 ? DEFAULT_HEARTBEAT_SECONDS : s;
  }

  /** How long without a heartbeat makes a node lost. */
  static Duration grace(Dom0Node node) {
    return Duration.ofSeconds((long) heartbeatSeconds(node) * MISSED_HEARTBEATS);
  }

  private static boolean stale(Instant last, int seconds, Clock clock) {
    Duration age = Duration.between(last, Instant.now(clock));
    return age.compareTo(Duration.ofSeconds((long) seconds * MISSED_HEARTBEATS)) > 0;
  }

  static boolean healthy(Dom0Node node, Clock clock) {
    return problem(node, clock).isEmpty();
  }

  static Instant lastHeartbeat(Dom0Node node) {
    try {
      return Instant.parse(node.getStatus().agent().lastHeartbeat());
    } catch (RuntimeException e) {
      return Instant.EPOCH;
    }
  }
}
