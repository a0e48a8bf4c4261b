package io.xenvbd.operator;

import io.xenvbd.protocol.DiskState;

/**
 * What one reconcile step found; the StatusBuilder turns it into status, the only place that does.
 */
sealed interface Outcome {

  /**
   * The spec breaks a rule (Ready=False, InvalidSpec) or waits for another disk (WaitingForSource).
   */
  record Invalid(String reason, String message) implements Outcome {}

  /** No node can take the disk now. */
  record Unschedulable(String reason, String message) implements Outcome {}

  /** A node was just chosen; status records it before any agent is called. */
  record Placed(String nodeName, String message) implements Outcome {}

  /** The node's agent cannot be reached, its heartbeat is stale, or its Dom0Node is gone. */
  record Unreachable(String reason, String message) implements Outcome {}

  /** The agent is building or resizing the image. */
  record Working(DiskState state) implements Outcome {}

  /**
   * The operator and the node's agent share no protocol version that can carry this disk: the agent
   * is too old for a field the disk needs (AgentTooOld, nothing sent), or it refused the operator's
   * version (OperatorTooOld). Waits for an upgrade.
   */
  record Incompatible(String reason, String message) implements Outcome {}

  /** The agent reported an error; retried with backoff. */
  record Failed(String code, String message) implements Outcome {}

  /** The image exists with the desired size. */
  record Done(DiskState state) implements Outcome {}

  /**
   * The image exists, smaller than spec.size, and the grow is refused (InsufficientStorage or
   * QuotaExceeded): nothing was sent to the agent, and the image stays usable at its size.
   */
  record GrowRefused(DiskState state, String reason, String message) implements Outcome {}

  /** Deletion cannot finish yet (image in use, node unreachable). */
  record Blocked(String cause, String message) implements Outcome {}
}
