package io.xenvbd.reliability;

import static org.assertj.core.api.Assertions.assertThat;

import com.marcnuri.helm.Helm;
import io.fabric8.kubernetes.api.model.HasMetadata;
import io.fabric8.kubernetes.api.model.rbac.ClusterRole;
import io.fabric8.kubernetes.api.model.rbac.ClusterRoleBinding;
import io.fabric8.kubernetes.api.model.rbac.PolicyRule;
import io.fabric8.kubernetes.api.model.rbac.Role;
import io.fabric8.kubernetes.api.model.rbac.RoleBinding;
import io.fabric8.kubernetes.api.model.rbac.Subject;
import io.fabric8.kubernetes.client.utils.Serialization;
import java.io.ByteArrayInputStream;
import java.nio.charset.StandardCharsets;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Objects;
import org.junit.jupiter.api.Test;

/**
 * Promise 4 (least privilege), checked statically: the embedded API server of local mode has no
 * RBAC (it is the fabric8 CRUD mock), so the rules the chart would install are rendered with real
 * Helm and read. The agent's ServiceAccount must not reach VirtualDisks or Secrets; nobody gets
 * wildcards.
 */
class ChartRbacTest {
  static final String AGENT_SA = "xv-xenvbd-agent";

  record Grant(String role, String group, String resource, String verb) {}

  static List<HasMetadata> render() {
    String yaml =
        new Helm(Path.of("helm/xenvbd"))
            .template()
            .withName("xv")
            .withNamespace("xenvbd-system")
            .withKubeVersion("v1.34.4") // the chart's kubeVersion floor, as helm.Chart.KUBE_VERSION
            .call();
    List<HasMetadata> objects =
        Serialization.unmarshal(new ByteArrayInputStream(yaml.getBytes(StandardCharsets.UTF_8)));
    return objects.stream().filter(Objects::nonNull).toList();
  }

  /**
   * Every (role, group, resource, verb) a ServiceAccount of the release gets through any binding.
   */
  static List<Grant> grantsOf(List<HasMetadata> objects, String serviceAccount) {
    List<Grant> grants = new ArrayList<>();
    for (HasMetadata o : objects) {
      String roleName = null;
      List<Subject> subjects = List.of();
      if (o instanceof ClusterRoleBinding b) {
        roleName = b.getRoleRef().getName();
        subjects = b.getSubjects();
      } else if (o instanceof RoleBinding b) {
        roleName = b.getRoleRef().getName();
        subjects = b.getSubjects();
      }
      if (roleName == null || subjects.stream().noneMatch(s -> serviceAccount.equals(s.getName())))
        continue;
      for (PolicyRule rule : rules(objects, roleName)) {
        for (String g : rule.getApiGroups()) {
          for (String r : rule.getResources()) {
            for (String v : rule.getVerbs()) grants.add(new Grant(roleName, g, r, v));
          }
        }
      }
    }
    return grants;
  }

  static List<PolicyRule> rules(List<HasMetadata> objects, String roleName) {
    for (HasMetadata o : objects) {
      if (o instanceof ClusterRole r && r.getMetadata().getName().equals(roleName))
        return r.getRules();
      if (o instanceof Role r && r.getMetadata().getName().equals(roleName)) return r.getRules();
    }
    throw new AssertionError("binding to a role the chart does not define: " + roleName);
  }

  @Test
  void theAgentServiceAccountCannotTouchVirtualDisksOrSecrets() {
    List<Grant> agent = grantsOf(render(), AGENT_SA);
    assertThat(agent).as("the agent has some grants (binding found)").isNotEmpty();
    assertThat(agent).noneMatch(g -> g.resource().startsWith("virtualdisks"));
    assertThat(agent).noneMatch(g -> g.resource().equals("secrets") || g.resource().equals("*"));
    assertThat(agent)
        .allMatch(g -> g.group().equals("xenvbd.io") && g.resource().startsWith("dom0nodes"));
    assertThat(agent)
        .noneMatch(g -> g.verb().equals("delete") || g.verb().equals("deletecollection"));
    System.out.println("[reliability] agent RBAC: " + agent);
  }

  @Test
  void theOperatorReadsNodesWritesDisksAndEventsAndNothingElse() {
    List<HasMetadata> objects = render();
    List<Grant> operator = grantsOf(objects, "xv-xenvbd-operator");
    assertThat(operator).isNotEmpty();
    assertThat(operator)
        .noneMatch(
            g ->
                g.resource().equals("secrets") || g.resource().equals("*") || g.verb().equals("*"));
    // it reads the nodes, and writes only their status (Ready=Unknown when heartbeats stop, a
    // draining node's Drained condition), with a patch: never their spec (the admin's), never a
    // create or delete
    assertThat(operator)
        .filteredOn(g -> g.resource().equals("dom0nodes"))
        .allMatch(g -> List.of("get", "list", "watch").contains(g.verb()));
    assertThat(operator)
        .filteredOn(g -> g.resource().equals("dom0nodes/status"))
        .allMatch(g -> g.verb().equals("patch"));
    assertThat(operator)
        .noneMatch(g -> g.verb().equals("delete") && g.resource().equals("virtualdisks"));
    assertThat(operator)
        .noneMatch(
            g ->
                g.verb().equals("escalate")
                    || g.verb().equals("bind")
                    || g.verb().equals("impersonate"));
    System.out.println("[reliability] operator RBAC: " + operator);
  }
}
