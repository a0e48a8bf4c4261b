package io.xenvbd.client;

import io.xenvbd.protocol.AgentUnreachableException;
import io.xenvbd.protocol.TokenFile;
import io.xenvbd.tls.Rotating;
import java.nio.file.Files;
import java.nio.file.LinkOption;
import java.nio.file.Path;
import java.time.Clock;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.Objects;
import java.util.concurrent.ConcurrentHashMap;

/**
 * The bearer tokens the operator sends to each node's agent: the file named after the node in a
 * directory of per-node tokens (the chart mounts one Secret per node there), or the shared token
 * when that directory has no file for the node. Every file is watched ({@link Rotating}): a rotated
 * token is sent from the next call on, and for an overlap after the change the replaced one is
 * tried when an agent that has not yet seen the change answers 401.
 */
public final class NodeTokens {
  private final Rotating<String> shared;
  private final Path dir;
  private final Duration overlap;
  private final Duration poll;
  private final Map<String, Rotating<String>> perNode = new ConcurrentHashMap<>();

  private NodeTokens(Rotating<String> shared, Path dir, Duration overlap, Duration poll) {
    this.shared = shared;
    this.dir = dir;
    this.overlap = overlap;
    this.poll = poll;
  }

  /** Every node gets {@code token}. */
  public static NodeTokens shared(String token) {
    return new NodeTokens(fixed(token), null, Rotating.DEFAULT_OVERLAP, Duration.ZERO);
  }

  /**
   * Node N gets the content of {@code dir/N} when that file exists, else {@code fallback}; the
   * files are looked at on every call.
   */
  public static NodeTokens perNode(Path dir, String fallback) {
    return new NodeTokens(
        fixed(fallback),
        Objects.requireNonNull(dir, "dir"),
        Rotating.DEFAULT_OVERLAP,
        Duration.ZERO);
  }

  /**
   * The shared token of {@code tokenFile} and, with {@code dirOrNull}, per-node files; all of them
   * re-read when they change, the replaced token tried for {@code overlap} after a change.
   *
   * @throws IllegalArgumentException when {@code tokenFile} cannot be used, saying how to fix it
   */
  public static NodeTokens fromFiles(Path tokenFile, Path dirOrNull, Duration overlap) {
    Rotating<String> shared =
        Rotating.of(
            "agent token",
            tokenFile,
            TokenFile.MAX_BYTES,
            contents -> nonEmpty(contents.get(0), tokenFile + " (--token-file)"),
            overlap);
    return new NodeTokens(shared, dirOrNull, overlap, Rotating.DEFAULT_POLL);
  }

  private static Rotating<String> fixed(String token) {
    if (token == null || token.isBlank())
      throw new IllegalArgumentException("the shared agent token is empty");
    return Rotating.fixed(token);
  }

  private static String nonEmpty(byte[] content, String file) {
    String token = TokenFile.parse(content);
    if (token.isEmpty())
      throw new IllegalArgumentException(
          "the token file " + file + " is empty: put the agents' bearer token in it");
    return token;
  }

  /**
   * The tokens to try for {@code node}, the current first (then the replaced one during an
   * overlap). {@code node} is already checked to be a Kubernetes object name (so it is one path
   * segment: no slash, no leading dot). A file that exists but cannot be used is an error, not a
   * reason to send the shared token instead.
   */
  List<String> tokensFor(String node) {
    if (dir == null) return shared.accepted();
    Path file = dir.resolve(node);
    if (Files.notExists(file, LinkOption.NOFOLLOW_LINKS)) {
      perNode.remove(node);
      return shared.accepted();
    }
    Rotating<String> tokens = perNode.get(node);
    if (tokens == null) {
      try {
        tokens =
            Rotating.of(
                "token of node " + node,
                List.of(file),
                TokenFile.MAX_BYTES,
                contents -> {
                  String token = TokenFile.parse(contents.get(0));
                  if (token.isEmpty())
                    throw new IllegalArgumentException(
                        file
                            + " is empty; put the node's token in it, or remove it to use the shared token");
                  return token;
                },
                overlap,
                poll,
                Clock.systemUTC());
      } catch (IllegalArgumentException e) {
        throw new AgentUnreachableException(
            "the token file " + file + " for node " + node + " cannot be used: " + e.getMessage());
      }
      Rotating<String> raced = perNode.putIfAbsent(node, tokens);
      if (raced != null) tokens = raced;
    }
    return tokens.accepted();
  }

  /** Why token files that changed are not in use (the tokens in use stay), one sentence each. */
  List<String> problems() {
    List<String> out = new ArrayList<>();
    if (shared.error() != null) out.add(shared.error());
    perNode
        .values()
        .forEach(
            r -> {
              String e = r.error();
              if (e != null) out.add(e);
            });
    return out;
  }

  /** The token to send {@code node} first. */
  String tokenFor(String node) {
    return tokensFor(node).get(0);
  }
}
