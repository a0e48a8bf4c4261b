package io.xenvbd.testing;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import java.io.IOException;
import java.io.UncheckedIOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Instant;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.TreeMap;

/**
 * The real kube-apiserver's audit log ({@link RealKubeApiServer#auditLog}), one {@link Call} per
 * completed request: who made it, the RBAC verb and resource the authorizer checked, and the code
 * it answered. Requests for non-resource URLs (discovery, /version) carry no resource and are kept
 * with an empty one, so that a 403 on them is seen too.
 */
public record ApiServerAudit(List<Call> calls) {
  private static final ObjectMapper JSON = new ObjectMapper();
  private static final Set<String> STAGES = Set.of("ResponseStarted", "ResponseComplete", "Panic");

  public record Call(
      Instant at,
      String user,
      String userAgent,
      String verb,
      String apiGroup,
      String resource,
      String subresource,
      String namespace,
      String name,
      String uri,
      int code) {
    /**
     * "group/resource[/subresource]:verb", the form {@link RbacGrants} uses (core group: empty).
     */
    public String grantKey() {
      return apiGroup
          + "/"
          + (subresource.isEmpty() ? resource : resource + "/" + subresource)
          + ":"
          + verb;
    }

    public boolean isResourceRequest() {
      return !resource.isEmpty();
    }

    @Override
    public String toString() {
      return code + " " + verb + " " + uri + " by " + user + " (" + userAgent + ") at " + at;
    }
  }

  static ApiServerAudit read(Path log) {
    // A watch is logged when its response starts and again when it ends, which may be never within
    // a
    // test: one call per audit ID, counted from the first of the two.
    Map<String, Call> calls = new LinkedHashMap<>();
    try {
      if (!Files.exists(log)) return new ApiServerAudit(List.of());
      for (String line : Files.readAllLines(log)) {
        if (line.isBlank()) continue;
        JsonNode e = JSON.readTree(line);
        if (!STAGES.contains(e.path("stage").asText())) continue;
        JsonNode ref = e.path("objectRef");
        calls.putIfAbsent(
            e.path("auditID").asText(),
            new Call(
                Instant.parse(e.path("requestReceivedTimestamp").asText()),
                e.path("user").path("username").asText(),
                e.path("userAgent").asText(),
                e.path("verb").asText(),
                ref.path("apiGroup").asText(""),
                ref.path("resource").asText(""),
                ref.path("subresource").asText(""),
                ref.path("namespace").asText(""),
                ref.path("name").asText(""),
                e.path("requestURI").asText(),
                e.path("responseStatus").path("code").asInt()));
      }
    } catch (IOException e) {
      throw new UncheckedIOException(
          "cannot read the API server's audit log " + log + ": " + e.getMessage(), e);
    }
    return new ApiServerAudit(List.copyOf(calls.values()));
  }

  /** Calls received at or after {@code start}. */
  public ApiServerAudit since(Instant start) {
    return new ApiServerAudit(calls.stream().filter(c -> !c.at().isBefore(start)).toList());
  }

  /** Calls made as this identity. */
  public ApiServerAudit by(RealKubeApiServer.Identity who) {
    return new ApiServerAudit(calls.stream().filter(c -> c.user().equals(who.user())).toList());
  }

  /** Calls the authorizer refused (403 Forbidden). */
  public List<Call> forbidden() {
    return calls.stream().filter(c -> c.code() == 403).toList();
  }

  /** Every grant key used by a resource request, with how often. */
  public Map<String, Integer> grantKeys() {
    Map<String, Integer> counts = new TreeMap<>();
    calls.stream()
        .filter(Call::isResourceRequest)
        .forEach(c -> counts.merge(c.grantKey(), 1, Integer::sum));
    return counts;
  }
}
