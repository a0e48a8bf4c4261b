package io.xenvbd.protocol;

/** Makes a client for the agent at an endpoint (from a Dom0Node's status); tests may supply their own. */
@FunctionalInterface
public interface AgentClientFactory {
  AgentClient forEndpoint(String endpoint);
}
