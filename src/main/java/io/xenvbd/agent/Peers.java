package io.xenvbd.agent;

import io.xenvbd.client.AgentTrust;
import io.xenvbd.client.TransferClient;
import io.xenvbd.disk.DiskException;
import io.xenvbd.disk.ErrorCode;
import io.xenvbd.disk.RemoteClone;
import io.xenvbd.protocol.AgentException;
import io.xenvbd.protocol.AgentUnreachableException;
import io.xenvbd.protocol.DiskSpec;
import io.xenvbd.protocol.ErrorCodes;
import java.io.InterruptedIOException;
import java.time.Duration;

/**
 * The target side of cross-node clones: turns the operator's {@link DiskSpec.Remote} into windows
 * fetched from the source node's agent, trusting only a certificate from the agents' CA ({@code
 * --peer-ca}) that names the source node and its endpoint's host.
 */
final class Peers {
  private static final Duration TIMEOUT = Duration.ofSeconds(30);
  private final AgentTrust trust;

  Peers(AgentTrust trust) {
    this.trust = trust;
  }

  RemoteClone remote(DiskSpec.Remote remote) {
    return remote(remote, "spec.populate.cloneFrom.remote");
  }

  /** {@code field} names the request field in refusals (cloneFrom.remote, or moveFrom). */
  RemoteClone remote(DiskSpec.Remote remote, String field) {
    if (remote.node() == null || remote.endpoint() == null || remote.ticket() == null) {
      throw ApiError.badRequest(
          field + " needs node, endpoint and ticket (the operator fills them in)");
    }
    TransferClient client;
    try {
      client = TransferClient.to(trust, remote.node(), remote.endpoint(), TIMEOUT);
    } catch (AgentUnreachableException e) {
      throw ApiError.badRequest(field + ": " + e.getMessage());
    }
    return new RemoteClone(
        remote.node(),
        credential -> {
          try {
            return client.open(credential);
          } catch (AgentUnreachableException e) {
            if (e.getCause() instanceof InterruptedIOException
                || Thread.currentThread().isInterrupted()) {
              throw new DiskException(
                  ErrorCode.Interrupted,
                  "interrupted while fetching from node " + remote.node(),
                  e);
            }
            throw new DiskException(
                ErrorCode.TransferFailed,
                "cannot fetch the image from node " + remote.node() + ": " + e.getMessage(),
                e);
          } catch (AgentException e) {
            ErrorCode code =
                ErrorCodes.IMAGE_IN_USE.equals(e.code())
                    ? ErrorCode.ImageInUse
                    : ErrorCodes.NOT_FOUND.equals(e.code())
                        ? ErrorCode.NotFound
                        : ErrorCode.TransferFailed;
            throw new DiskException(code, "node " + remote.node() + ": " + e.getMessage(), e);
          }
        },
        remote.ticket());
  }
}
