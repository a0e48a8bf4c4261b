package io.xenvbd.kube;

import io.vertx.core.Handler;
import io.vertx.core.http.HttpMethod;
import io.vertx.core.http.HttpServerRequest;
import java.util.Set;

/**
 * The first thing every request meets: without the bearer token it is answered 401 with the Status
 * kube-apiserver sends, before it is routed, audited or its body read. Only the health checks stay
 * open (as kube-apiserver's anonymous-endpoint allowlist is usually set), and they say only "ok".
 * Discovery, OpenAPI and {@code /version} are closed too: kube-apiserver with {@code
 * --anonymous-auth=false} closes them.
 */
final class Authentication implements Handler<HttpServerRequest> {
  private static final Set<String> OPEN = Set.of("/healthz", "/livez", "/readyz");
  private static final String UNAUTHORIZED =
      Json.write(new ApiException(401, "Unauthorized", "Unauthorized").toStatus());

  private final BearerToken token;
  private final Handler<HttpServerRequest> next;

  Authentication(BearerToken token, Handler<HttpServerRequest> next) {
    this.token = token;
    this.next = next;
  }

  @Override
  public void handle(HttpServerRequest req) {
    // The raw path, compared whole: "/healthz/../api" or "//healthz" is not a health check.
    boolean health = req.method() == HttpMethod.GET && OPEN.contains(req.path());
    if (health || token.matches(req.getHeader("Authorization"))) {
      next.handle(req);
      return;
    }
    req.response()
        .setStatusCode(401)
        .putHeader("Content-Type", "application/json")
        .putHeader("Cache-Control", "no-store")
        .end(UNAUTHORIZED);
  }
}
