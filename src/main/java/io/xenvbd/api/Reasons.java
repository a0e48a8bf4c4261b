package io.xenvbd.api;

/** Every condition and event reason, CamelCase, in one place. */
public final class Reasons {
  private Reasons() {}

  // Scheduled
  public static final String NODE_ASSIGNED = "NodeAssigned";
  public static final String NO_NODE_FITS = "NoNodeFits";
  public static final String NODE_NOT_FOUND = "NodeNotFound";
  public static final String INSUFFICIENT_STORAGE = "InsufficientStorage";
  public static final String LOOP_DEVICES_EXHAUSTED = "LoopDevicesExhausted";

  /** The node is cordoned (Dom0Node spec.unschedulable). */
  public static final String NODE_CORDONED = "NodeCordoned";

  /** The node's agent has not registered, stopped heartbeating, or reports Ready=False. */
  public static final String NODE_NOT_READY = "NodeNotReady";

  /** The node's spec.allowedNamespaces does not name the disk's namespace. */
  public static final String NAMESPACE_NOT_ALLOWED = "NamespaceNotAllowed";

  /**
   * The namespace's disks on the node would exceed the node's spec.maxBytesPerNamespace (also
   * refuses a grow).
   */
  public static final String QUOTA_EXCEEDED = "QuotaExceeded";

  // Provisioned / Ready
  public static final String PROVISIONING = "Provisioning";
  public static final String PROVISIONED = "Provisioned";
  public static final String RESIZING = "Resizing";
  public static final String RESIZED = "Resized";
  public static final String PROVISIONING_FAILED = "ProvisioningFailed";
  public static final String INVALID_SPEC = "InvalidSpec";
  public static final String NODE_UNREACHABLE = "NodeUnreachable";

  /**
   * The disk's node stopped heartbeating (its Dom0Node's Ready is Unknown): the disk stays on it,
   * and turns Ready by itself when heartbeats resume.
   */
  public static final String NODE_LOST = "NodeLost";

  /**
   * The Dom0Node of a placed disk no longer exists: the disk stays bound to that node, and recovers
   * by itself when its agent registers it again.
   */
  public static final String NODE_DELETED = "NodeDeleted";

  /** The agent's certificate does not name the node (and endpoint host) it answers for. */
  public static final String AGENT_IDENTITY_MISMATCH = "AgentIdentityMismatch";

  /** The node advertises an http:// endpoint while the operator requires TLS. */
  public static final String INSECURE_AGENT_ENDPOINT = "InsecureAgentEndpoint";

  /**
   * The node's agent speaks a protocol too old for a field the disk needs: nothing is sent until it
   * is upgraded.
   */
  public static final String AGENT_TOO_OLD = "AgentTooOld";

  /** The node's agent no longer serves the operator's protocol version: upgrade the operator. */
  public static final String OPERATOR_TOO_OLD = "OperatorTooOld";

  public static final String WAITING_FOR_NODE = "WaitingForNode";

  /** populate.cloneFrom names a disk that does not exist yet or is not Ready yet. */
  public static final String WAITING_FOR_SOURCE = "WaitingForSource";

  public static final String READY = "Ready";

  // Events only
  /** A build of a new image started (event). */
  public static final String PROVISIONING_STARTED = "ProvisioningStarted";

  /** A grow of an existing image to a larger spec.size started (event). */
  public static final String RESIZE_STARTED = "ResizeStarted";

  public static final String LOOP_DEVICE_FREE = "LoopDeviceFree";
  // Deletion
  public static final String DELETION_BLOCKED = "DeletionBlocked";
  public static final String IMAGE_IN_USE = "ImageInUse";
  public static final String DELETED = "Deleted";
  public static final String RETAINED = "Retained";

  /**
   * The disk was deleted with the xenvbd.io/abandon-image annotation: its image was left on the
   * node, untouched.
   */
  public static final String IMAGE_ABANDONED = "ImageAbandoned";

  // Dom0Node
  public static final String HEARTBEAT = "AgentHeartbeat";
  public static final String HEARTBEAT_MISSED = "HeartbeatMissed";

  // Moves off a draining node (VirtualDisk condition Moved, Dom0Node condition Drained)
  /** The image is being copied to the target node (or the old one is being deleted). */
  public static final String MOVING = "Moving";

  /** The disk was moved to another node. */
  public static final String MOVED = "Moved";

  /** spec.nodeName names the draining node: the drain leaves the disk where it is. */
  public static final String PINNED = "PinnedToNode";

  /** The disk is not Ready on the draining node yet (building, failed, node unreachable). */
  public static final String WAITING_FOR_READY = "WaitingForReady";

  /** The copy failed; the image on the draining node is intact and still the disk's. */
  public static final String MOVE_FAILED = "MoveFailed";

  /** The Dom0Node still has disks to move. */
  public static final String DRAINING = "Draining";

  /** No disk that a drain moves is left on the Dom0Node. */
  public static final String DRAINED = "Drained";
}
