package io.xenvbd.kube;

import com.fasterxml.jackson.databind.JsonNode;
import dev.cel.bundle.Cel;
import dev.cel.bundle.CelFactory;
import dev.cel.common.CelAbstractSyntaxTree;
import dev.cel.common.CelValidationException;
import dev.cel.runtime.CelEvaluationException;
import dev.cel.runtime.CelRuntime;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.Iterator;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.concurrent.ConcurrentHashMap;
import java.util.regex.Pattern;

/**
 * Evaluates a CRD schema's {@code x-kubernetes-validations} with cel-java, as kube-apiserver does:
 * {@code self} is the value at the rule's place, {@code oldSelf} the same place in the stored
 * object; a rule that uses oldSelf (a transition rule) runs only on update and only where the old
 * value exists. Kubernetes' quantity() library comes from {@link CelQuantityLibrary}.
 */
public final class CelValidator {
  private static final Pattern OLD_SELF = Pattern.compile("\\boldSelf\\b");
  // One environment and one program per rule for the whole JVM: building them is the slow part.
  private static final Cel CEL =
      CelQuantityLibrary.configure(CelFactory.standardCelBuilder()).build();
  private static final Map<String, CelRuntime.Program> PROGRAMS = new ConcurrentHashMap<>();

  /**
   * @param schema the version's openAPIV3Schema
   * @param object the new object
   * @param old the stored object on update, null on create
   */
  public List<FieldError> validate(JsonNode schema, JsonNode object, JsonNode old) {
    List<FieldError> errors = new ArrayList<>();
    walk(schema, object, old, "", errors);
    return errors;
  }

  /** Compiles every rule of the schema now, so the first write does not pay for it. */
  public void precompile(JsonNode schema) {
    if (schema == null || !schema.isObject()) {
      return;
    }
    schema.path("x-kubernetes-validations").forEach(r -> program(r.path("rule").asText()));
    schema.path("properties").forEach(this::precompile);
    precompile(schema.get("items"));
    precompile(schema.get("additionalProperties"));
  }

  private void walk(
      JsonNode schema, JsonNode value, JsonNode old, String path, List<FieldError> errors) {
    if (schema == null || value == null || value.isNull()) {
      return;
    }
    for (JsonNode rule : schema.path("x-kubernetes-validations")) {
      check(rule, value, old, path, errors);
    }
    if (value.isObject()) {
      for (Iterator<Map.Entry<String, JsonNode>> it = schema.path("properties").fields();
          it.hasNext(); ) {
        Map.Entry<String, JsonNode> p = it.next();
        walk(
            p.getValue(),
            value.get(p.getKey()),
            old == null ? null : old.get(p.getKey()),
            path.isEmpty() ? p.getKey() : path + "." + p.getKey(),
            errors);
      }
    } else if (value.isArray()) {
      // List items have no identity in an atomic list: their transition rules are not run.
      for (int i = 0; i < value.size(); i++) {
        walk(schema.get("items"), value.get(i), null, path + "[" + i + "]", errors);
      }
    }
  }

  private void check(
      JsonNode rule, JsonNode value, JsonNode old, String path, List<FieldError> errors) {
    String expr = rule.path("rule").asText();
    boolean transition = OLD_SELF.matcher(expr).find();
    if (transition && (old == null || old.isNull())) {
      return;
    }
    Map<String, Object> vars = new HashMap<>();
    vars.put("self", toCel(value));
    if (transition) {
      vars.put("oldSelf", toCel(old));
    }
    String field = path + (rule.has("fieldPath") ? rule.get("fieldPath").asText() : "");
    String message = rule.has("message") ? rule.get("message").asText() : "failed rule: " + expr;
    String shown =
        value.isObject() ? "\"object\"" : value.isArray() ? "\"array\"" : value.toString();
    try {
      Object result = program(expr).eval(vars);
      if (!Boolean.TRUE.equals(result)) {
        errors.add(
            new FieldError(field, "FieldValueInvalid", "Invalid value: " + shown + ": " + message));
      }
    } catch (CelEvaluationException e) {
      errors.add(
          new FieldError(
              field,
              "FieldValueInvalid",
              "Invalid value: "
                  + shown
                  + ": "
                  + message
                  + " (rule could not be evaluated: "
                  + e.getMessage()
                  + ")"));
    }
  }

  private CelRuntime.Program program(String expr) {
    return PROGRAMS.computeIfAbsent(
        expr,
        e -> {
          try {
            CelAbstractSyntaxTree ast = CEL.compile(e).getAst();
            return CEL.createProgram(ast);
          } catch (CelValidationException | CelEvaluationException ex) {
            throw new IllegalArgumentException(
                "CEL rule does not compile: " + e + ": " + ex.getMessage(), ex);
          }
        });
  }

  /** JSON to CEL values: maps, lists, strings, int64, double, bool. */
  static Object toCel(JsonNode n) {
    if (n.isObject()) {
      Map<String, Object> m = new LinkedHashMap<>();
      n.fields()
          .forEachRemaining(
              e -> {
                if (!e.getValue().isNull()) {
                  m.put(e.getKey(), toCel(e.getValue()));
                }
              });
      return m;
    }
    if (n.isArray()) {
      List<Object> l = new ArrayList<>();
      n.forEach(i -> l.add(toCel(i)));
      return l;
    }
    if (n.isIntegralNumber()) {
      return n.asLong();
    }
    if (n.isNumber()) {
      return n.asDouble();
    }
    if (n.isBoolean()) {
      return n.asBoolean();
    }
    return n.asText();
  }
}
