package io.xenvbd.protocol;

/** The agent could not be reached at all (connection refused, timeout, TLS failure). */
public class AgentUnreachableException extends AgentException {
  public AgentUnreachableException(String endpoint, Throwable cause) {
    super(ErrorCodes.UNREACHABLE, 0, "agent at " + endpoint + " is unreachable: " + cause.getMessage(), cause);
  }
}
