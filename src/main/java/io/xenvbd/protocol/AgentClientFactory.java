package io.xenvbd.protocol;

import java.util.List;

/**
 * Makes a client for the agent of node {@code nodeName} at {@code endpoint} (both from that node's
 * Dom0Node); tests may supply their own. The node matters as much as the endpoint: the client
 * proves the server is that node's agent and sends that node's token.
 */
@FunctionalInterface
public interface AgentClientFactory {
  AgentClient forNode(String nodeName, String endpoint);

  /**
   * Credential files (tokens, CA) that changed to content this factory refuses and so does not use,
   * one sentence each naming the file to fix; empty when every file is in use.
   */
  default List<String> credentialProblems() {
    return List.of();
  }
}
