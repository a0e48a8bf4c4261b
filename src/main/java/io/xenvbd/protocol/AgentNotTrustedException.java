package io.xenvbd.protocol;

import io.xenvbd.api.Reasons;

/**
 * The operator refused to talk to what a Dom0Node advertises, before sending anything: the server's
 * certificate does not prove the node (see io.xenvbd.client.AgentTrust), or the endpoint would
 * carry the bearer token in clear. Retried like an unreachable agent, since the node may be fixed;
 * the condition reason says which.
 */
public final class AgentNotTrustedException extends AgentUnreachableException {
  private final String reason;

  private AgentNotTrustedException(String reason, String message) {
    super(message);
    this.reason = reason;
  }

  public static AgentNotTrustedException identityMismatch(String message) {
    return new AgentNotTrustedException(Reasons.AGENT_IDENTITY_MISMATCH, message);
  }

  public static AgentNotTrustedException insecureEndpoint(String endpoint) {
    return new AgentNotTrustedException(
        Reasons.INSECURE_AGENT_ENDPOINT,
        "its agent advertises the plain-HTTP endpoint "
            + endpoint
            + " and the operator sends the bearer token only over HTTPS: run the agent with --tls-cert and"
            + " --tls-key so that it advertises https://");
  }

  @Override
  public String reason() {
    return reason;
  }
}
