package io.xenvbd.helm;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import dev.cel.bundle.Cel;
import dev.cel.bundle.CelFactory;
import dev.cel.common.types.SimpleType;
import dev.cel.parser.CelStandardMacro;
import io.fabric8.kubernetes.api.model.admissionregistration.v1.NamedRuleWithOperations;
import io.fabric8.kubernetes.api.model.admissionregistration.v1.ValidatingAdmissionPolicy;
import io.fabric8.kubernetes.api.model.admissionregistration.v1.ValidatingAdmissionPolicyBinding;
import io.fabric8.kubernetes.api.model.admissionregistration.v1.Validation;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import org.junit.jupiter.api.Test;

/**
 * The ValidatingAdmissionPolicy that keeps each agent to its own Dom0Node: rendered by default, its
 * match rules what the agent's role grants, and its CEL evaluated (cel-java, the engine the
 * embedded API server uses) against requests shaped as kube-apiserver builds them. On the real API
 * server with pod-bound tokens: Dom0NodePolicyOnRealApiServerTest.
 */
class HelmDom0NodePolicyTest {
  static final String NAME = Chart.FULLNAME + "-agent-own-dom0node";
  static final String AGENT =
      "system:serviceaccount:" + Chart.NAMESPACE + ":" + Chart.FULLNAME + "-agent";
  static final String NODE_NAME = "authentication.kubernetes.io/node-name";
  static final Cel CEL =
      CelFactory.standardCelBuilder()
          .setStandardMacros(CelStandardMacro.STANDARD_MACROS)
          .addVar("request", SimpleType.DYN)
          .addVar("object", SimpleType.DYN)
          .build();

  @Test
  void theAgentsServiceAccountIsMatchedOnCreateAndUpdateOfDom0NodesAndTheirStatus() {
    ValidatingAdmissionPolicy policy = Chart.render("").one(ValidatingAdmissionPolicy.class, NAME);
    assertThat(policy.getApiVersion()).isEqualTo("admissionregistration.k8s.io/v1");
    assertThat(policy.getSpec().getFailurePolicy()).isEqualTo("Fail");
    NamedRuleWithOperations rule = policy.getSpec().getMatchConstraints().getResourceRules().get(0);
    assertThat(policy.getSpec().getMatchConstraints().getResourceRules()).hasSize(1);
    assertThat(rule.getApiGroups()).containsExactly("xenvbd.io");
    assertThat(rule.getResources()).containsExactly("dom0nodes", "dom0nodes/status");
    assertThat(rule.getOperations()).containsExactly("CREATE", "UPDATE");
    assertThat(policy.getSpec().getMatchConditions())
        .singleElement()
        .satisfies(
            c ->
                assertThat(c.getExpression())
                    .isEqualTo("request.userInfo.username == \"" + AGENT + "\""));
    assertThat(validation(policy).getExpression())
        .contains("object.metadata.name == request.userInfo.extra[\"" + NODE_NAME + "\"][0]");

    ValidatingAdmissionPolicyBinding binding =
        Chart.render("").one(ValidatingAdmissionPolicyBinding.class, NAME);
    assertThat(binding.getSpec().getPolicyName()).isEqualTo(NAME);
    assertThat(binding.getSpec().getValidationActions()).containsExactly("Deny");
  }

  @Test
  void anAgentMayWriteOnlyTheDom0NodeOfItsOwnNode() throws Exception {
    ValidatingAdmissionPolicy policy = Chart.render("").one(ValidatingAdmissionPolicy.class, NAME);
    String match = policy.getSpec().getMatchConditions().get(0).getExpression();
    Validation v = validation(policy);

    assertThat(eval(match, request(AGENT, "dom0-a"), dom0Node("dom0-a"))).isEqualTo(true);
    assertThat(
            eval(
                match,
                request("system:serviceaccount:" + Chart.NAMESPACE + ":xv-xenvbd-operator", null),
                dom0Node("x")))
        .as("other users are not this policy's business")
        .isEqualTo(false);

    assertThat(eval(v.getExpression(), request(AGENT, "dom0-a"), dom0Node("dom0-a")))
        .isEqualTo(true);
    assertThat(eval(v.getExpression(), request(AGENT, "dom0-a"), dom0Node("dom0-b")))
        .isEqualTo(false);
    assertThat(eval(v.getExpression(), request(AGENT, null), dom0Node("dom0-a")))
        .as("a token that names no node (a legacy Secret token)")
        .isEqualTo(false);
    assertThat(eval(v.getMessageExpression(), request(AGENT, "dom0-a"), dom0Node("dom0-b")))
        .isEqualTo("the xenvbd agent on node dom0-a may write only Dom0Node dom0-a, not dom0-b");
    assertThat(v.getMessage()).contains("only the Dom0Node named after the node its pod runs on");
  }

  @Test
  void thePolicyCanBeSwitchedOffAndOlderClustersAreToldToDoSo() {
    assertThat(Chart.render("agent: {ownDom0NodePolicy: {enabled: false}}").names())
        .noneMatch(n -> n.startsWith("ValidatingAdmissionPolicy"));
    assertThatThrownBy(() -> Chart.template("", "v1.29.4"))
        .hasMessageContaining("agent.ownDom0NodePolicy needs Kubernetes 1.30 or later")
        .hasMessageContaining("agent.ownDom0NodePolicy.enabled=false");
    assertThat(Chart.template("agent: {ownDom0NodePolicy: {enabled: false}}", "v1.29.4"))
        .contains("kind: DaemonSet");
  }

  static Validation validation(ValidatingAdmissionPolicy policy) {
    assertThat(policy.getSpec().getValidations()).hasSize(1);
    return policy.getSpec().getValidations().get(0);
  }

  /**
   * An admission request's userInfo as kube-apiserver fills it for a pod-bound token (node null: no
   * claim).
   */
  static Map<String, Object> request(String username, String node) {
    Map<String, Object> user =
        new HashMap<>(Map.of("username", username, "groups", List.of("system:serviceaccounts")));
    if (node != null) {
      user.put(
          "extra",
          Map.of(
              NODE_NAME,
              List.of(node),
              "authentication.kubernetes.io/pod-name",
              List.of("agent-x")));
    }
    return Map.of("operation", "UPDATE", "userInfo", user);
  }

  static Map<String, Object> dom0Node(String name) {
    return Map.of(
        "apiVersion", "xenvbd.io/v1alpha1", "kind", "Dom0Node", "metadata", Map.of("name", name));
  }

  static Object eval(String expression, Map<String, Object> request, Map<String, Object> object)
      throws Exception {
    return CEL.createProgram(CEL.compile(expression).getAst())
        .eval(Map.of("request", request, "object", object));
  }
}
