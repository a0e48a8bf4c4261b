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
    int seconds =
        status.agent().heartbeatSeconds() == null || status.agent().heartbeatSeconds() <= 0
            ? DEFAULT_HEARTBEAT_SECONDS
            : status.agent().heartbeatSeconds();
    Duration age = Duration.between(last, Instant.now(clock));
    if (age.compareTo(Duration.ofSeconds((long) seconds * MISSED_HEARTBEATS)) > 0) {
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
