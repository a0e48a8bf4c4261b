package io.xenvbd.kube;

import com.fasterxml.jackson.databind.node.ArrayNode;
import com.fasterxml.jackson.databind.node.ObjectNode;
import java.util.List;

/** An error answered as a Kubernetes {@code Status} body, the way kube-apiserver shapes it. */
final class ApiException extends RuntimeException {
  private final int code;
  private final String reason;
  private final ObjectNode details;

  ApiException(int code, String reason, String message) {
    this(code, reason, message, null);
  }

  ApiException(int code, String reason, String message, ObjectNode details) {
    super(message);
    this.code = code;
    this.reason = reason;
    this.details = details;
  }

  int code() {
    return code;
  }

  static ApiException notFound(ResourcePath rp) {
    return new ApiException(
        404,
        "NotFound",
        rp.qualifiedPlural() + " \"" + rp.name() + "\" not found",
        details(rp, rp.name()));
  }

  static ApiException conflict(ResourcePath rp, String name) {
    return new ApiException(
        409,
        "Conflict",
        "Operation cannot be fulfilled on "
            + rp.qualifiedPlural()
            + " \""
            + name
            + "\": the object has been modified; please apply your changes to the latest version and try again",
        details(rp, name));
  }

  static ApiException alreadyExists(ResourcePath rp, String name) {
    return new ApiException(
        409,
        "AlreadyExists",
        rp.qualifiedPlural() + " \"" + name + "\" already exists",
        details(rp, name));
  }

  /** 422 Invalid with one cause per field, as kube-apiserver answers a schema or CEL violation. */
  static ApiException invalid(String kind, ResourcePath rp, String name, List<FieldError> errors) {
    ObjectNode details = details(rp, name);
    details.put("kind", kind);
    ArrayNode causes = details.putArray("causes");
    for (FieldError e : errors) {
      causes
          .addObject()
          .put("reason", e.reason())
          .put("message", e.detail())
          .put("field", e.field());
    }
    String all =
        errors.size() == 1
            ? errors.get(0).message()
            : "[" + String.join(", ", errors.stream().map(FieldError::message).toList()) + "]";
    String qualifiedKind = rp.group().isEmpty() ? kind : kind + "." + rp.group();
    return new ApiException(
        422, "Invalid", qualifiedKind + " \"" + name + "\" is invalid: " + all, details);
  }

  private static ObjectNode details(ResourcePath rp, String name) {
    ObjectNode d = Json.object();
    if (name != null) {
      d.put("name", name);
    }
    d.put("group", rp.group()).put("kind", rp.plural());
    return d;
  }

  ObjectNode toStatus() {
    ObjectNode s = Json.object();
    s.put("kind", "Status").put("apiVersion", "v1");
    s.putObject("metadata");
    s.put("status", "Failure").put("message", getMessage()).put("reason", reason);
    if (details != null) {
      s.set("details", details);
    }
    s.put("code", code);
    return s;
  }
}
