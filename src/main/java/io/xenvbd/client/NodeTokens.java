package io.xenvbd.client;

import io.xenvbd.protocol.AgentUnreachableException;
import io.xenvbd.protocol.TokenFile;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.NoSuchFileException;
import java.nio.file.Path;
import java.util.Objects;

/**
 * The bearer token the operator sends to each node's agent: the file named after the node in a
 * directory of per-node tokens (the chart mounts one Secret per node there), or the shared token
 * when that directory has no file for the node. Files are read on every look-up, so a rotated token
 * is used without a restart.
 */
public final class NodeTokens {
  private static final int MAX_TOKEN_BYTES = 4096;

  private final String shared;
  private final Path dir;

  private NodeTokens(String shared, Path dir) {
    if (shared == null || shared.isBlank())
      throw new IllegalArgumentException("the shared agent token is empty");
    this.shared = shared;
    this.dir = dir;
  }

  /** Every node gets {@code token}. */
  public static NodeTokens shared(String token) {
    return new NodeTokens(token, null);
  }

  /** Node N gets the content of {@code dir/N} when that file exists, else {@code fallback}. */
  public static NodeTokens perNode(Path dir, String fallback) {
    return new NodeTokens(fallback, Objects.requireNonNull(dir, "dir"));
  }

  /**
   * The token for {@code node}, a name already checked to be a Kubernetes object name (so it is one
   * path segment: no slash, no leading dot). A file that exists but cannot be used is an error, not
   * a reason to send the shared token instead.
   */
  String tokenFor(String node) {
    if (dir == null) return shared;
    Path file = dir.resolve(node);
    try {
      if (Files.size(file) > MAX_TOKEN_BYTES) {
        throw refused(
            file,
            node,
            "is larger than " + MAX_TOKEN_BYTES + " bytes; it must hold only that node's token");
      }
      String token = TokenFile.read(file);
      if (token.isEmpty())
        throw refused(
            file,
            node,
            "is empty; put the node's token in it, or remove it to use the shared token");
      return token;
    } catch (NoSuchFileException e) {
      return shared;
    } catch (IOException e) {
      throw refused(
          file,
          node,
          "cannot be read ("
              + e.getMessage()
              + "); fix its permissions or remove it to use the shared token");
    }
  }

  private static AgentUnreachableException refused(Path file, String node, String what) {
    return new AgentUnreachableException(
        "the token file " + file + " for node " + node + " " + what);
  }
}
