/**
 * The embedded Kubernetes API of local mode and of the test suites: {@link EmbeddedApiServer}.
 *
 * <p>The fabric8 mock server's CRUD store (used in-process, so there is no request log to drain)
 * behind a Vert.x HTTP front that serves what the real kubectl and java-operator-sdk need:
 * discovery built from the stored CRDs, an OpenAPI v3 stub that leaves validation to the server,
 * Table output with the CRDs' printer columns, RFC 7386 merge patch (strategic merge treated the
 * same), JSON patch, server-side apply, chunked HTTP and WebSocket watches that honour
 * resourceVersion, schema pruning, defaulting and validation ({@link SchemaValidator}), CEL rules
 * ({@link CelValidator}) and real 409 conflicts. Every request but the health checks must carry the
 * server's bearer token ({@link BearerToken}); without it the answer is kube-apiserver's 401
 * Status, before routing. Every resource request is recorded as an authorizer would name it ({@link
 * AuditEvent}, by User-Agent), so tests can check RBAC against what the code really calls.
 *
 * <p>java-operator-sdk runs with its defaults against it: server-side apply for the finalizer and
 * the status works, so no {@code ConfigurationServiceOverrider} setting is needed and production (a
 * real API server) and tests take the same code path. Not implemented: SSA conflict detection
 * between field managers (every apply is forced), client certificates, authorization (whoever has
 * the token may do everything), aggregated discovery (kubectl falls back to the legacy documents),
 * protobuf.
 */
package io.xenvbd.kube;
