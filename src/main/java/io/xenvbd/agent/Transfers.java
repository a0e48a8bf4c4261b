package io.xenvbd.agent;

import com.sun.net.httpserver.HttpExchange;
import io.xenvbd.client.TransferClient;
import io.xenvbd.disk.DiskEngine;
import io.xenvbd.disk.TransferSource;
import io.xenvbd.protocol.ErrorCodes;
import io.xenvbd.protocol.TransferTicket;
import java.io.IOException;
import java.io.OutputStream;
import java.security.SecureRandom;
import java.time.Duration;
import java.time.Instant;
import java.util.Base64;
import java.util.Map;
import java.util.Set;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.Executors;
import java.util.concurrent.ScheduledExecutorService;
import java.util.concurrent.Semaphore;
import java.util.concurrent.TimeUnit;

/**
 * The source side of cross-node clones. The operator (with this node's token) asks for a ticket for
 * one image ({@code POST /v1/transfers}); the target agent presents it, and only it, to {@code GET
 * /v1/transfer} ({@code Authorization: Ticket ...}). A ticket is random (256 bits), names one image
 * and its owner uid, expires {@link #TICKET_TTL} after it was issued, and is used once: the first
 * window consumes it and opens a session; each window ends with a fresh single-use credential for
 * the next. A session idle for {@link #IDLE} or older than {@link #DEADLINE} is closed, and with it
 * the image's lock. Each window is one response of the length the source planned for it.
 */
final class Transfers implements AutoCloseable {
  /**
   * Long enough for a build queued behind others on the target node; short enough to be worthless
   * if it leaks.
   */
  static final Duration TICKET_TTL = Duration.ofMinutes(10);

  static final Duration IDLE = Duration.ofSeconds(60);
  static final Duration DEADLINE = DiskService.DEFAULT_DEADLINE;

  /** Tickets not yet used; more are refused (503) until some expire. */
  static final int MAX_TICKETS = 256;

  /** Windows streamed at the same time (each holds an API thread for up to 20 s). */
  static final int MAX_STREAMING = 4;

  private record Ticket(String namespace, String name, String uid, Instant expires) {}

  static final class Session {
    final TransferSource source;
    final Instant deadline;
    volatile Instant lastUsed = Instant.now();

    Session(TransferSource source, Instant deadline) {
      this.source = source;
      this.deadline = deadline;
    }
  }

  private final DiskEngine engine;
  private final SecureRandom random = new SecureRandom();
  private final Map<String, Ticket> tickets = new ConcurrentHashMap<>();

  /** Sessions by the credential of their next window. */
  private final Map<String, Session> sessions = new ConcurrentHashMap<>();

  /** Every open session, streaming or waiting for its next window: each holds its image's lock. */
  private final Set<Session> live = ConcurrentHashMap.newKeySet();

  private final Semaphore streaming = new Semaphore(MAX_STREAMING);
  private final ScheduledExecutorService sweeper =
      Executors.newSingleThreadScheduledExecutor(
          r -> {
            Thread t = new Thread(r, "xenvbd-transfer-sweeper");
            t.setDaemon(true);
            return t;
          });
  private final Duration ticketTtl;

  Transfers(DiskEngine engine) {
    this(engine, TICKET_TTL);
  }

  Transfers(DiskEngine engine, Duration ticketTtl) {
    this.engine = engine;
    this.ticketTtl = ticketTtl;
    sweeper.scheduleWithFixedDelay(this::sweep, 5, 5, TimeUnit.SECONDS);
  }

  /**
   * {@code POST /v1/transfers}, with the node's token: a ticket for an image this node has
   * published.
   */
  TransferTicket issue(TransferTicket.Request request) {
    if (request.namespace() == null || request.name() == null || request.uid() == null) {
      throw ApiError.badRequest(
          "namespace, name and uid are required: the clone source's namespace, name and metadata.uid");
    }
    DiskApi.validate(request.namespace(), request.name());
    var image =
        engine
            .inspect(request.namespace(), request.name())
            .filter(i -> i.ownerUid().equals(request.uid()))
            .orElseThrow(
                () ->
                    new ApiError(
                        404,
                        ErrorCodes.NOT_FOUND,
                        "this agent has no published image "
                            + request.namespace()
                            + "/"
                            + request.name()
                            + " of the VirtualDisk with uid "
                            + request.uid()));
    sweep();
    if (tickets.size() >= MAX_TICKETS) {
      throw new ApiError(
          503,
          ErrorCodes.BUSY,
          MAX_TICKETS + " transfer tickets are outstanding: retry in a minute");
    }
    String ticket = credential();
    tickets.put(
        ticket,
        new Ticket(
            request.namespace(), request.name(), request.uid(), Instant.now().plus(ticketTtl)));
    return new TransferTicket(ticket, ticketTtl.toSeconds(), image.capacityBytes());
  }

  /** {@code GET /v1/transfer}: the next window of the session the credential opens or continues. */
  int serve(HttpExchange exchange, String credential) throws IOException {
    if (!exchange.getRequestMethod().equals("GET"))
      throw DiskApi.notAllowed(exchange.getRequestMethod(), TransferClient.PATH, "GET");
    Session session = take(credential);
    if (!streaming.tryAcquire()) {
      close(session);
      throw new ApiError(
          503,
          ErrorCodes.BUSY,
          "this agent is already streaming " + MAX_STREAMING + " clones: retry the clone");
    }
    try {
      exchange.getResponseHeaders().set("Content-Type", "application/octet-stream");
      exchange.getResponseHeaders().set("Cache-Control", "no-store");
      // a fixed length: the server then passes each record on whole (chunked, it cuts 4 KiB chunks)
      TransferSource.Window window = session.source.nextWindow();
      exchange.sendResponseHeaders(200, window.length());
      try (OutputStream out = exchange.getResponseBody()) {
        session.source.writeWindow(
            out,
            window,
            () -> {
              String next = credential();
              sessions.put(next, session);
              return next;
            });
      }
      session.lastUsed = Instant.now();
      return 200;
    } catch (IOException | RuntimeException e) {
      close(session); // a window half sent cannot be resumed: the target starts over with a new
      // ticket
      throw e;
    } finally {
      if (session.source.over()) close(session);
      streaming.release();
    }
  }

  /** The session a credential opens (a fresh ticket) or continues; each credential works once. */
  Session take(String credential) {
    Session session = sessions.remove(credential);
    if (session != null) {
      session.lastUsed = Instant.now();
      if (Instant.now().isAfter(session.deadline)) {
        close(session);
        throw unauthorized();
      }
      return session;
    }
    Ticket ticket = tickets.remove(credential);
    if (ticket == null || Instant.now().isAfter(ticket.expires())) throw unauthorized();
    TransferSource source = engine.openTransfer(ticket.namespace(), ticket.name(), ticket.uid());
    Session opened = new Session(source, Instant.now().plus(DEADLINE));
    live.add(opened);
    return opened;
  }

  /**
   * Whether {@code credential} is a ticket or a session's next credential that is outstanding now
   * (a look-up; {@link #take} decides). Credentials are 256 random bits: a miss tells nothing.
   */
  boolean known(String credential) {
    return sessions.containsKey(credential) || tickets.containsKey(credential);
  }

  static ApiError unauthorized() {
    return new ApiError(
        401,
        ErrorCodes.UNAUTHORIZED,
        "the transfer ticket is unknown, expired or already used:"
            + " the operator asks for a new one when it retries the clone");
  }

  private void sweep() {
    Instant now = Instant.now();
    tickets.values().removeIf(t -> now.isAfter(t.expires()));
    for (Session s : live) {
      if (now.isAfter(s.deadline) || now.isAfter(s.lastUsed.plus(IDLE))) close(s);
    }
  }

  private void close(Session session) {
    sessions.values().removeIf(s -> s == session);
    live.remove(session);
    session.source.close();
  }

  private String credential() {
    byte[] bytes = new byte[32];
    random.nextBytes(bytes);
    return Base64.getUrlEncoder().withoutPadding().encodeToString(bytes);
  }

  @Override
  public void close() {
    sweeper.shutdownNow();
    live.forEach(this::close);
    sessions.clear();
    tickets.clear();
  }
}
