package io.xenvbd.protocol;

import java.util.List;

/**
 * {@code GET /v1/ends} (protocol 8): the builds, resizes and moves that ended on the agent since
 * the caller last asked, so the operator looks at a disk when its operation ends instead of polling
 * every disk that waits in the agent's queue.
 *
 * @param epoch this run of the agent (random at its start): a caller with another epoch gets {@code
 *     complete} false and no list
 * @param seq operations ended in this run so far; the caller sends it back as {@code after}
 * @param complete whether {@code ended} holds every operation that ended after the caller's {@code
 *     after}; when false, the caller looks at every disk of the node that waits on it
 * @param ended in the order they ended; a disk that ended twice is listed twice
 */
public record OperationEnds(String epoch, long seq, boolean complete, List<Ended> ended) {
  public OperationEnds {
    ended = ended == null ? List.of() : List.copyOf(ended);
  }

  /** One operation's disk: its namespace, name and the owner's uid the operation was for. */
  public record Ended(String namespace, String name, String uid) {}
}
