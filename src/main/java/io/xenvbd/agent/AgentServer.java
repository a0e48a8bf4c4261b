package io.xenvbd.agent;

import com.sun.net.httpserver.HttpExchange;
import com.sun.net.httpserver.HttpServer;
import com.sun.net.httpserver.HttpsConfigurator;
import com.sun.net.httpserver.HttpsServer;
import io.xenvbd.client.TransferClient;
import io.xenvbd.disk.DiskEngine;
import io.xenvbd.disk.DiskException;
import io.xenvbd.protocol.ErrorBody;
import io.xenvbd.protocol.ErrorCodes;
import io.xenvbd.protocol.TokenFile;
import io.xenvbd.tls.Rotating;
import java.io.IOException;
import java.net.InetSocketAddress;
import java.util.Objects;
import java.util.concurrent.ArrayBlockingQueue;
import java.util.concurrent.RejectedExecutionException;
import java.util.concurrent.SynchronousQueue;
import java.util.concurrent.ThreadFactory;
import java.util.concurrent.ThreadPoolExecutor;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicInteger;
import java.util.function.BooleanSupplier;
import javax.net.ssl.SSLContext;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * The HTTP(S) front: health and metrics, the token check on every other call, and the one place
 * where failures become {@code {code, message}} answers. Disk work never runs on these threads.
 *
 * <p>Two pools. The server's own threads do the TLS handshake, read the request head, check the
 * token and answer health, readiness, metrics and refusals, all without reading a body. Only an
 * authenticated call reaches the API threads, which read its body and do its work; so a caller that
 * keeps the API threads busy cannot silence the probes, and one without the token never gets an API
 * thread at all. The JDK server's timeouts ({@link HttpLimits}) bound how long any connection can
 * hold either.
 */
final class AgentServer implements AutoCloseable {
  private static final Logger LOG = LoggerFactory.getLogger(AgentServer.class);

  /**
   * API threads kept for the calls that answer at once (PUT, DELETE, a GET without a wait): the
   * ones that wait or stream never take these.
   */
  static final int FREE_API_THREADS = 4;

  /**
   * Authenticated calls handled at the same time: those that answer in milliseconds (disk work is
   * queued elsewhere), and at most {@link Transfers#MAX_STREAMING} stream windows, {@link
   * DiskService#MAX_WAITING_GETS} GETs waiting for a build's end and {@link EndLog#MAX_WAITING}
   * GETs of /v1/ends, with {@link #FREE_API_THREADS} left over for the rest whatever those do.
   */
  static final int API_THREADS =
      Transfers.MAX_STREAMING
          + DiskService.MAX_WAITING_GETS
          + EndLog.MAX_WAITING
          + FREE_API_THREADS;

  /** Authenticated calls that may wait for an API thread; the next one is answered 503 at once. */
  static final int API_QUEUE = 64;

  /**
   * Connections in a TLS handshake or sending their request head at the same time; more are closed.
   */
  static final int CONNECTION_THREADS = 64;

  private final HttpServer server;
  private final ThreadPoolExecutor connectionThreads;
  private final ThreadPoolExecutor apiThreads;
  private final Rotating<byte[]> tokenDigests;
  private final boolean metricsRequireToken;
  private final DiskApi api;
  private final Metrics metrics;
  private final DiskEngine engine;
  private final DiskService disks;
  private final BooleanSupplier ready;
  private final Transfers transfers;

  AgentServer(
      AgentConfig config,
      SSLContext sslOrNull,
      DiskApi api,
      Metrics metrics,
      DiskEngine engine,
      DiskService disks,
      BooleanSupplier ready)
      throws IOException {
    this(config, sslOrNull, api, metrics, engine, disks, ready, null);
  }

  /**
   * {@code transfers}: the source side of cross-node clones; null: {@code GET /v1/transfer} is
   * refused like any call without the token.
   */
  AgentServer(
      AgentConfig config,
      SSLContext sslOrNull,
      DiskApi api,
      Metrics metrics,
      DiskEngine engine,
      DiskService disks,
      BooleanSupplier ready,
      Transfers transfers)
      throws IOException {
    this.transfers = transfers;
    this.tokenDigests = tokens(config);
    this.metricsRequireToken = config.metricsRequireToken();
    this.api = api;
    this.metrics = metrics;
    this.engine = engine;
    this.disks = disks;
    this.ready = ready;
    HttpLimits.apply(); // before the JDK's server classes read them
    if (sslOrNull == null) {
      server = HttpServer.create(config.listen(), 64);
    } else {
      HttpsServer https = HttpsServer.create(config.listen(), 64);
      https.setHttpsConfigurator(new HttpsConfigurator(sslOrNull));
      server = https;
    }
    // A connection the pool has no thread for is closed by the server (it rejects the task).
    connectionThreads =
        new ThreadPoolExecutor(
            0,
            CONNECTION_THREADS,
            30,
            TimeUnit.SECONDS,
            new SynchronousQueue<>(),
            daemons("xenvbd-http-"));
    apiThreads =
        new ThreadPoolExecutor(
            API_THREADS,
            API_THREADS,
            0,
            TimeUnit.SECONDS,
            new ArrayBlockingQueue<>(API_QUEUE),
            daemons("xenvbd-api-"));
    server.setExecutor(connectionThreads);
    server.createContext("/", this::dispatch);
    server.start();
  }

  /**
   * The digest of the configured token, and of the token file's new content after a rotation (the
   * replaced one accepted for the overlap); only digests are kept.
   */
  private static Rotating<byte[]> tokens(AgentConfig config) {
    if (config.tokenFile() == null) return Rotating.fixed(Exchanges.sha256(config.token()));
    return Rotating.of(
        "agent token",
        config.tokenFile(),
        TokenFile.MAX_BYTES,
        contents -> {
          String token = TokenFile.parse(contents.get(0));
          if (token.isEmpty())
            throw new IllegalArgumentException(
                "the --token-file "
                    + config.tokenFile()
                    + " is empty: put the operator's bearer token in it");
          return Exchanges.sha256(token);
        },
        config.rotationOverlap());
  }

  /** Why the token file in place is not in use (what to fix), or null. */
  String tokenError() {
    return tokenDigests.error();
  }

  InetSocketAddress address() {
    return server.getAddress();
  }

  /** On a connection thread: answers what needs no API thread, hands the rest over. */
  private void dispatch(HttpExchange exchange) {
    String path = path(exchange);
    // only a GET (no body to read) with a ticket; anything else on this path meets the token check
    String ticket =
        transfers != null
                && path.equals(TransferClient.PATH)
                && exchange.getRequestMethod().equals("GET")
            ? ticket(exchange)
            : null;
    boolean open =
        path.equals("/healthz")
            || path.equals("/readyz")
            || path.equals("/metrics") && !metricsRequireToken;
    // What answers without the token takes no body: none is ever read from a caller that has not
    // proven itself (a declared body that never came held an API thread for 30 s: found in review).
    if ((ticket != null || open) && Exchanges.declaresBody(exchange)) {
      refuse(
          exchange,
          400,
          new ErrorBody(
              ErrorCodes.INVALID_REQUEST,
              exchange.getRequestMethod()
                  + " "
                  + path
                  + " takes no request body: send it without one"));
      return;
    }
    if (ticket != null) {
      // A ticket opens this one route and nothing else. One that this agent never issued (or that
      // was used) is refused here, on the connection thread: a caller without a credential never
      // gets an API thread. Transfers checks a known one again as it takes it.
      if (!transfers.known(ticket)) {
        refuse(exchange, 401, Transfers.unauthorized().body());
        return;
      }
      execute(exchange, () -> transfers.serve(exchange, ticket));
      return;
    }
    if (!open && !Exchanges.hasToken(exchange, tokenDigests.accepted())) {
      // Before any path check (no probing for paths), and answered before any of the body is read.
      exchange.getResponseHeaders().set("WWW-Authenticate", "Bearer");
      refuse(
          exchange,
          401,
          new ErrorBody(
              ErrorCodes.UNAUTHORIZED,
              "missing or wrong bearer token: send 'Authorization: Bearer <token>' with the token the agent was given"));
      return;
    }
    if (!path.startsWith("/v1/")) {
      answer(exchange, () -> routeOpen(exchange, path));
      return;
    }
    execute(
        exchange,
        () -> {
          api.handle(exchange, path);
          return exchange.getResponseCode();
        });
  }

  /** On an API thread, or 503 at once when they are all busy. */
  private void execute(HttpExchange exchange, Route route) {
    try {
      apiThreads.execute(() -> answer(exchange, route));
    } catch (RejectedExecutionException e) {
      refuse(
          exchange,
          503,
          new ErrorBody(
              ErrorCodes.BUSY,
              "the agent is already handling "
                  + (API_THREADS + API_QUEUE)
                  + " calls: retry in a few seconds"));
    }
  }

  /** The credential of {@code Authorization: Ticket <credential>}, or null. */
  private static String ticket(HttpExchange exchange) {
    String header = exchange.getRequestHeaders().getFirst("Authorization");
    if (header == null
        || !header.regionMatches(true, 0, TransferClient.SCHEME, 0, TransferClient.SCHEME.length()))
      return null;
    return header.substring(TransferClient.SCHEME.length()).strip();
  }

  /** Health, readiness and metrics, and a 404 for any other path outside /v1 (with the token). */
  private int routeOpen(HttpExchange exchange, String path) throws IOException {
    switch (path) {
      case "/healthz" -> {
        Exchanges.sendText(exchange, 200, "text/plain", "ok\n");
        return 200;
      }
      case "/readyz" -> {
        boolean ok = ready.getAsBoolean();
        Exchanges.sendText(exchange, ok ? 200 : 503, "text/plain", ok ? "ready\n" : "starting\n");
        return ok ? 200 : 503;
      }
      case "/metrics" -> {
        String text =
            metrics.render(engine.loopStatus(), engine.storage(), disks.running(), disks.queued());
        Exchanges.sendText(exchange, 200, Metrics.CONTENT_TYPE, text);
        return 200;
      }
      default ->
          throw new ApiError(
              404,
              ErrorCodes.NOT_FOUND,
              "no such path " + path + ": the agent serves /v1/..., /healthz, /readyz, /metrics");
    }
  }

  private interface Route {
    /** Returns the status it answered. */
    int answer() throws IOException;
  }

  private void answer(HttpExchange exchange, Route route) {
    int status = 0;
    try {
      status = route.answer();
    } catch (ApiError e) {
      status = e.status;
      respondError(exchange, e.status, e.body());
    } catch (DiskException e) {
      ApiError error = ApiError.of(e);
      status = error.status;
      respondError(exchange, error.status, error.body());
    } catch (IOException e) {
      // The client went away or was too slow (the server closed its connection): nobody to answer.
      LOG.debug("{} {}: {}", exchange.getRequestMethod(), path(exchange), e.toString());
    } catch (Exception | Error e) {
      LOG.error("{} {} failed unexpectedly", exchange.getRequestMethod(), path(exchange), e);
      status = 500;
      respondError(
          exchange,
          500,
          new ErrorBody(
              ErrorCodes.INTERNAL, "the agent failed unexpectedly; its log has the details"));
    } finally {
      metrics.request(exchange.getRequestMethod(), status);
      exchange.close();
    }
  }

  /**
   * Answers without reading the body and closes the connection: the client may still be sending.
   */
  private void refuse(HttpExchange exchange, int status, ErrorBody body) {
    try {
      Exchanges.sendUnread(exchange, status, body);
    } catch (IOException e) {
      LOG.debug("could not send the refusal: {}", e.getMessage());
      status = 0;
    } finally {
      metrics.request(exchange.getRequestMethod(), status);
      exchange.close();
    }
  }

  private static void respondError(HttpExchange exchange, int status, ErrorBody body) {
    try {
      if (exchange.getResponseCode() != -1) return; // already answered: nothing more can be said
      Exchanges.sendJson(exchange, status, body);
    } catch (IOException e) {
      LOG.debug("could not send the error answer: {}", e.getMessage());
    }
  }

  private static String path(HttpExchange exchange) {
    return Objects.requireNonNullElse(exchange.getRequestURI().getRawPath(), "");
  }

  private static ThreadFactory daemons(String prefix) {
    AtomicInteger n = new AtomicInteger();
    return r -> {
      Thread t = new Thread(r, prefix + n.incrementAndGet());
      t.setDaemon(true);
      return t;
    };
  }

  @Override
  public void close() {
    if (transfers != null) transfers.close();
    // up to a second for calls in flight to be answered (waiting ones were released): a caller
    // whose connection is closed under it waits for its own timeout instead of failing at once
    server.stop(1);
    apiThreads.shutdownNow();
    connectionThreads.shutdownNow();
  }
}
