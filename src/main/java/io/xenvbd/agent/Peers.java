package io.xenvbd.agent;

import io.xenvbd.client.AgentTrust;
import io.xenvbd.client.TransferClient;
import io.xenvbd.disk.DiskException;
import io.xenvbd.disk.ErrorCode;
import io.xenvbd.disk.RemoteClone;
import io.xenvbd.disk.TransferReceiver;
import io.xenvbd.protocol.AgentException;
import io.xenvbd.protocol.AgentUnreachableException;
import io.xenvbd.protocol.DiskSpec;
import io.xenvbd.protocol.ErrorCodes;
import java.io.FilterInputStream;
import java.io.IOException;
import java.io.InputStream;
import java.io.InterruptedIOException;
import java.time.Duration;
import java.util.concurrent.Executors;
import java.util.concurrent.ScheduledExecutorService;
import java.util.concurrent.ScheduledFuture;
import java.util.concurrent.TimeUnit;

/**
 * The target side of cross-node clones: turns the operator's {@link DiskSpec.Remote} into windows
 * fetched from the source node's agent, trusting only a certificate from the agents' CA ({@code
 * --peer-ca}) that names the source node and its endpoint's host.
 */
final class Peers {
  private static final Duration TIMEOUT = Duration.ofSeconds(30);

  /**
   * A window's body that sends nothing for this long is given up: the request timeout only covers
   * the response's headers, and a source that stalls after them would hold a worker until the
   * build's deadline (hours). A real source never pauses near this long (its windows end after 20
   * s).
   */
  static final Duration IDLE = Duration.ofSeconds(60);

  private static final ScheduledExecutorService WATCHDOG =
      Executors.newSingleThreadScheduledExecutor(
          r -> {
            Thread t = new Thread(r, "xenvbd-peer-idle");
            t.setDaemon(true);
            return t;
          });
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
            return new Idle(client.open(credential), IDLE, remote.node());
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
            throw new DiskException(
                code, "node " + remote.node() + ": " + TransferReceiver.shown(e.getMessage()), e);
          }
        },
        remote.ticket());
  }

  /**
   * A body closed when no byte arrived for {@code idle}: the blocked read then fails, and the build
   * with TransferFailed.
   */
  static final class Idle extends FilterInputStream {
    private volatile long lastRead = System.nanoTime();
    private volatile boolean timedOut;
    private final ScheduledFuture<?> check;
    private final Duration idle;
    private final String node;

    Idle(InputStream in, Duration idle, String node) {
      super(in);
      this.idle = idle;
      this.node = node;
      long every = Math.max(1, idle.toMillis() / 4);
      check =
          WATCHDOG.scheduleWithFixedDelay(
              () -> {
                if (System.nanoTime() - lastRead > idle.toNanos()) {
                  timedOut = true;
                  closeQuietly();
                }
              },
              every,
              every,
              TimeUnit.MILLISECONDS);
    }

    @Override
    public int read() throws IOException {
      try {
        int b = super.read();
        lastRead = System.nanoTime();
        return b;
      } catch (IOException e) {
        if (timedOut) throw stalled(e);
        throw e;
      }
    }

    @Override
    public int read(byte[] b, int off, int len) throws IOException {
      try {
        int n = super.read(b, off, len);
        lastRead = System.nanoTime();
        if (timedOut) throw stalled(null);
        return n;
      } catch (IOException e) {
        if (timedOut) throw stalled(e);
        throw e;
      }
    }

    private DiskException stalled(IOException cause) {
      return new DiskException(
          ErrorCode.TransferFailed,
          "node "
              + node
              + " sent nothing of the clone's source for "
              + idle.toSeconds()
              + " s: nothing was published; the clone is retried, and if it stalls again check that"
              + " node's agent and the network between the two nodes",
          cause);
    }

    private void closeQuietly() {
      check.cancel(false);
      try {
        super.close();
      } catch (IOException ignored) {
        // closing is all that is asked; the read that waited ends either way
      }
    }

    @Override
    public void close() throws IOException {
      check.cancel(false);
      super.close();
    }
  }
}
