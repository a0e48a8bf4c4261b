package io.xenvbd.disk;

/**
 * A clone source on another node: how to fetch its windows and the ticket for the first one. The
 * source's image arrives in a temporary file beside the new one, checked against its digest, and is
 * then cloned as a source on this node would be; the temporary file is removed whatever happens.
 */
public record RemoteClone(String node, TransferReceiver.Windows windows, String ticket) {
  @Override
  public String toString() {
    return "RemoteClone[node=" + node + ", ticket=(hidden)]";
  }
}
