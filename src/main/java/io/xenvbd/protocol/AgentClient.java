package io.xenvbd.protocol;

import java.time.Duration;
import java.util.Optional;

/**
 * The operator's only way to reach a node agent (HTTPS, versioned paths under {@code /v1}).
 * Implementations throw {@link AgentUnreachableException} when the agent cannot be reached and
 * {@link AgentException} with the agent's error code when it answered with an error.
 */
public interface AgentClient {

  /** {@code GET /v1/node}: the node's loop devices, storage, images and orphans. */
  NodeInfo node();

  /**
   * {@code PUT /v1/disks/{namespace}/{name}}: create-or-confirm. Starts a build (or a resize, when
   * the size grew) in the background and returns the current state at once. A different owner uid
   * than the image's gives {@link AgentException} with code {@code NotOwner} (HTTP 409).
   */
  DiskState putDisk(String namespace, String name, PutDiskRequest request);

  /** {@code GET /v1/disks/{namespace}/{name}}; empty when the agent knows no such disk. */
  Optional<DiskState> getDisk(String namespace, String name);

  /**
   * {@code GET /v1/disks/{namespace}/{name}?wait=MS}: as {@link #getDisk(String, String)}, but an
   * agent whose worker runs the disk's operation answers when it ends, or after {@code wait} (at
   * most 2 s). An agent from before this answers at once, as does one whose disk is queued or idle.
   */
  default Optional<DiskState> getDisk(String namespace, String name, Duration wait) {
    return getDisk(namespace, name);
  }

  /**
   * {@code GET /v1/ends?epoch=E&after=N&wait=MS} (protocol 8): the operations that ended after the
   * caller's {@code after} in the agent's run {@code epoch}; the agent answers when one has, or
   * after {@code wait} (at most 10 s). Null from a client that cannot ask (the tests' fakes).
   */
  default OperationEnds ends(String epoch, long after, Duration wait) {
    return null;
  }

  /**
   * {@code DELETE /v1/disks/{namespace}/{name}?uid=...}: idempotent, a disk already gone is
   * success. An image attached to a loop device, mounted or held open by a process gives {@link
   * AgentException} with code {@code ImageInUse} (HTTP 409) and nothing is deleted.
   */
  void deleteDisk(String namespace, String name, String uid);

  /**
   * {@code POST /v1/disks/{namespace}/{name}/release?uid=...} (protocol 4): the VirtualDisk went
   * with reclaimPolicy Retain, so its image is kept and marked released (the former owner's
   * namespace, name and uid recorded), listed in the Dom0Node, and adoptable. Idempotent; no image
   * is success; another owner's image gives {@link AgentException} with code {@code NotOwner}. A
   * running build of the disk is stopped first (nothing was published, so nothing is kept).
   */
  void releaseDisk(String namespace, String name, String uid);

  /**
   * {@code POST /v1/transfers} (protocol 5): a single-use ticket that lets another node's agent
   * stream this node's image of {@code request} (a cross-node clone's source). Not found, or
   * another owner: {@link AgentException} with code NotFound.
   */
  default TransferTicket transferTicket(TransferTicket.Request request) {
    throw new AgentException(
        ErrorCodes.INTERNAL, 501, "this agent client cannot ask for transfer tickets");
  }
}
