package io.xenvbd.kube;

import java.util.Locale;

/**
 * One resource request the embedded API server served, in the terms RBAC uses: who asked (the
 * client's User-Agent: every client holds the same bearer token, so the token cannot tell them
 * apart), the Kubernetes verb and what it was about.
 *
 * @param apiGroup "" for the core group
 * @param subresource null when the request is about the object itself
 * @param namespace null for cluster-scoped resources and requests across all namespaces
 * @param name null for collection requests (list, watch, create, deletecollection)
 */
public record AuditEvent(
    String userAgent,
    String verb,
    String apiGroup,
    String resource,
    String subresource,
    String namespace,
    String name) {

  /** "resource" or "resource/subresource", as an RBAC rule names it. */
  public String rbacResource() {
    return subresource == null ? resource : resource + "/" + subresource;
  }

  /** The verb an authorizer sees for this HTTP method on this path (watch given by the caller). */
  static AuditEvent of(String userAgent, String method, boolean watch, ResourcePath rp) {
    boolean one = rp.name() != null;
    String verb =
        switch (method) {
          case "GET" -> watch ? "watch" : one ? "get" : "list";
          case "POST" -> "create";
          case "PUT" -> "update";
          case "PATCH" -> "patch";
          case "DELETE" -> one ? "delete" : "deletecollection";
          default -> method.toLowerCase(Locale.ROOT);
        };
    return new AuditEvent(
        userAgent == null ? "" : userAgent,
        verb,
        rp.group(),
        rp.plural(),
        rp.subresource(),
        rp.namespace(),
        rp.name());
  }
}
