package io.xenvbd.agent;

import com.sun.net.httpserver.HttpExchange;
import io.xenvbd.api.SpecRules;
import io.xenvbd.api.Validation;
import io.xenvbd.disk.DiskEngine;
import io.xenvbd.protocol.ErrorCodes;
import io.xenvbd.protocol.Protocol;
import io.xenvbd.protocol.PutDiskRequest;
import io.xenvbd.protocol.TransferTicket;
import java.io.IOException;
import java.net.URLDecoder;
import java.nio.charset.StandardCharsets;
import java.time.Duration;

/**
 * The {@code /v1} routes: the node, and one disk's PUT, GET and DELETE. Callers are already
 * authenticated.
 */
final class DiskApi {
  private final String nodeName;
  private final DiskEngine engine;
  private final DiskService disks;
  private final Protocol protocol;
  private final Transfers transfers;

  DiskApi(String nodeName, DiskEngine engine, DiskService disks, Protocol protocol) {
    this(nodeName, engine, disks, protocol, null);
  }

  DiskApi(
      String nodeName,
      DiskEngine engine,
      DiskService disks,
      Protocol protocol,
      Transfers transfers) {
    this.transfers = transfers;
    this.nodeName = nodeName;
    this.engine = engine;
    this.disks = disks;
    this.protocol = protocol;
  }

  void handle(HttpExchange exchange, String path) throws IOException {
    String method = exchange.getRequestMethod();
    requireSupportedCaller(exchange.getRequestHeaders().getFirst(Protocol.HEADER));
    if (path.equals("/v1/node")) {
      if (!method.equals("GET")) throw notAllowed(method, path, "GET");
      Exchanges.sendJson(exchange, 200, NodeReport.read(nodeName, engine).toNodeInfo(protocol));
      return;
    }
    if (path.equals("/v1/transfers") && transfers != null && protocol.version() >= 4) {
      if (!method.equals("POST")) throw notAllowed(method, path, "POST");
      Exchanges.sendJson(
          exchange,
          200,
          transfers.issue(Exchanges.readJson(exchange, TransferTicket.Request.class)));
      return;
    }
    if (path.equals("/v1/ends") && protocol.version() >= Protocol.ENDS_SINCE) {
      if (!method.equals("GET")) throw notAllowed(method, path, "GET");
      String epoch = queryParameter(exchange, "epoch");
      long after =
          number(exchange, "after", 0, Long.MAX_VALUE, "0 or more (the seq of the last answer)");
      long wait =
          number(
              exchange,
              "wait",
              0,
              EndLog.MAX_WAIT.toMillis(),
              "of milliseconds from 0 to " + EndLog.MAX_WAIT.toMillis());
      try {
        Exchanges.sendJson(
            exchange,
            200,
            disks.ends().after(epoch == null ? "" : epoch, after, Duration.ofMillis(wait)));
      } catch (InterruptedException e) {
        Thread.currentThread().interrupt();
        throw new ApiError(503, ErrorCodes.BUSY, "the agent is stopping: ask again");
      }
      return;
    }
    String[] parts = path.split("/", -1);
    if (parts.length == 6 && parts[2].equals("disks") && parts[5].equals("release")) {
      // protocol 4: the VirtualDisk went with reclaimPolicy Retain
      if (!method.equals("POST")) throw notAllowed(method, path, "POST");
      validate(parts[3], parts[4]);
      disks.release(parts[3], parts[4], queryParameter(exchange, "uid"));
      Exchanges.sendEmpty(exchange, 204);
      return;
    }
    if (parts.length != 5 || !parts[2].equals("disks")) {
      throw new ApiError(
          404,
          ErrorCodes.NOT_FOUND,
          "no such path "
              + path
              + ": the agent serves /v1/node, /v1/ends, /v1/disks/{namespace}/{name} and"
              + " /v1/disks/{namespace}/{name}/release");
    }
    String namespace = parts[3];
    String name = parts[4];
    validate(namespace, name);
    switch (method) {
      case "PUT" -> {
        PutDiskRequest body = Exchanges.readJson(exchange, PutDiskRequest.class);
        if (body.spec() != null)
          protocol
              .unknownIn(body.spec())
              .ifPresent(
                  field -> {
                    throw ApiError.badRequest(
                        "unknown field "
                            + field.name()
                            + ": it came with agent protocol "
                            + field.since()
                            + " and this agent speaks "
                            + protocol.version()
                            + "; leave it out, or upgrade the agent");
                  });
        DiskService.PutReply reply = disks.put(namespace, name, body);
        Exchanges.sendJson(exchange, reply.started() ? 202 : 200, reply.state());
      }
      case "GET" ->
          Exchanges.sendJson(
              exchange,
              200,
              disks
                  .get(namespace, name, waitParameter(exchange))
                  .orElseThrow(
                      () ->
                          new ApiError(
                              404,
                              ErrorCodes.NOT_FOUND,
                              "this agent has no disk " + namespace + "/" + name)));
      case "DELETE" -> {
        disks.delete(namespace, name, queryParameter(exchange, "uid"));
        Exchanges.sendEmpty(exchange, 204);
      }
      default -> throw notAllowed(method, path, "PUT, GET, DELETE");
    }
  }

  /**
   * A caller that announces a version older than this agent's minimum is refused before anything is
   * read or done. No header is version 1, the wire from before versioning (curl, the bench tools).
   */
  void requireSupportedCaller(String header) {
    int announced;
    try {
      announced = Protocol.announced(header);
    } catch (IllegalArgumentException e) {
      throw ApiError.badRequest(e.getMessage());
    }
    if (announced < protocol.minSupported()) {
      throw new ApiError(
          426,
          ErrorCodes.OPERATOR_TOO_OLD,
          "the operator speaks agent protocol "
              + announced
              + " but this agent needs at least "
              + protocol.minSupported()
              + " (it speaks "
              + protocol.version()
              + "): upgrade the operator");
    }
  }

  static void validate(String namespace, String name) {
    if (!Validation.isDns1123Label(namespace)) {
      throw ApiError.badRequest(
          "namespace "
              + SpecRules.quote(namespace)
              + " is not a DNS-1123 label"
              + " (lower-case letters, digits and '-', at most 63 characters)");
    }
    // a DNS-1123 subdomain is never "..", never a slash, so never a path outside the images root
    if (!Validation.isDns1123Subdomain(name)) {
      throw ApiError.badRequest(
          "name "
              + SpecRules.quote(name)
              + " is not a DNS-1123 subdomain"
              + " (lower-case letters, digits, '-' and '.', at most 253 characters)");
    }
  }

  /**
   * {@code ?wait=MS} on a disk's GET: how long to wait for its running operation to end (0 to
   * {@link DiskService#MAX_WAIT}; none: 0).
   */
  private static Duration waitParameter(HttpExchange exchange) {
    String v = queryParameter(exchange, "wait");
    if (v == null) return Duration.ZERO;
    try {
      long ms = Long.parseLong(v);
      if (ms >= 0 && ms <= DiskService.MAX_WAIT.toMillis()) return Duration.ofMillis(ms);
    } catch (NumberFormatException e) {
      // refused below
    }
    throw ApiError.badRequest(
        "query parameter wait must be a number of milliseconds from 0 to "
            + DiskService.MAX_WAIT.toMillis()
            + ", not '"
            + v
            + "'");
  }

  /** A whole-number query parameter from {@code min} to {@code max} ({@code range}); absent: 0. */
  private static long number(HttpExchange exchange, String key, long min, long max, String range) {
    String v = queryParameter(exchange, key);
    if (v == null) return 0;
    try {
      long n = Long.parseLong(v);
      if (n >= min && n <= max) return n;
    } catch (NumberFormatException e) {
      // refused below
    }
    throw ApiError.badRequest(
        "query parameter "
            + key
            + " must be a whole number "
            + range
            + ", not "
            + SpecRules.quote(v));
  }

  private static String queryParameter(HttpExchange exchange, String key) {
    String query = exchange.getRequestURI().getRawQuery();
    if (query == null) return null;
    try {
      for (String pair : query.split("&")) {
        int eq = pair.indexOf('=');
        String k = URLDecoder.decode(eq < 0 ? pair : pair.substring(0, eq), StandardCharsets.UTF_8);
        if (k.equals(key))
          return eq < 0 ? "" : URLDecoder.decode(pair.substring(eq + 1), StandardCharsets.UTF_8);
      }
    } catch (IllegalArgumentException e) {
      throw ApiError.badRequest(
          "the query string is not valid percent-encoding (" + e.getMessage() + "): encode it");
    }
    return null;
  }

  static ApiError notAllowed(String method, String path, String allowed) {
    return new ApiError(
        405,
        ErrorCodes.METHOD_NOT_ALLOWED,
        method + " is not allowed on " + path + ": use " + allowed);
  }
}
