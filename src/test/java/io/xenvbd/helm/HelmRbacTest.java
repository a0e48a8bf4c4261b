package io.xenvbd.helm;

import static org.assertj.core.api.Assertions.assertThat;

import io.fabric8.kubernetes.api.model.rbac.ClusterRole;
import io.fabric8.kubernetes.api.model.rbac.ClusterRoleBinding;
import io.fabric8.kubernetes.api.model.rbac.PolicyRule;
import io.fabric8.kubernetes.api.model.rbac.Role;
import io.fabric8.kubernetes.api.model.rbac.RoleBinding;
import io.xenvbd.testing.RbacGrants;
import java.util.ArrayList;
import java.util.List;
import java.util.Set;
import java.util.TreeSet;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;

/**
 * The roles grant exactly what the operator and the agent call, nothing more (the calls themselves
 * are recorded in {@link RbacAgainstRecordedRequestsTest}; this pins the result without root). Each
 * grant is flattened to "group/resource:verb" so that a rule split or merged differently still
 * compares.
 */
class HelmRbacTest {
  static Chart.Rendered chart;

  @BeforeAll
  static void render() {
    chart = Chart.render("");
  }

  @Test
  void operatorClusterRoleGrantsExactlyWhatTheReconcilerCalls() {
    ClusterRole role = chart.one(ClusterRole.class, Chart.FULLNAME + "-operator");
    assertThat(grants(role.getRules()))
        .containsExactlyInAnyOrderElementsOf(
            expand(
                "xenvbd.io/virtualdisks", "get list watch patch",
                "xenvbd.io/virtualdisks/status", "patch",
                "xenvbd.io/dom0nodes", "list watch",
                "xenvbd.io/dom0nodes/status", "patch",
                "/events", "create"));
  }

  @Test
  void operatorLeaderElectionIsARoleInTheReleaseNamespaceOnly() {
    Role role = chart.one(Role.class, Chart.FULLNAME + "-operator-leader-election");
    assertThat(role.getMetadata().getNamespace()).isEqualTo(Chart.NAMESPACE);
    assertThat(grants(role.getRules()))
        .containsExactlyInAnyOrderElementsOf(
            expand("coordination.k8s.io/leases", "get create update patch"));
    RoleBinding binding =
        chart.one(RoleBinding.class, Chart.FULLNAME + "-operator-leader-election");
    assertThat(binding.getRoleRef().getName()).isEqualTo(role.getMetadata().getName());
    assertThat(binding.getSubjects())
        .singleElement()
        .satisfies(s -> assertThat(s.getName()).isEqualTo(Chart.FULLNAME + "-operator"));
  }

  @Test
  void agentClusterRoleGrantsOnlyDom0NodesAndTheirStatus() {
    ClusterRole role = chart.one(ClusterRole.class, Chart.FULLNAME + "-agent");
    assertThat(grants(role.getRules()))
        .containsExactlyInAnyOrderElementsOf(
            expand(
                "xenvbd.io/dom0nodes", "get create",
                "xenvbd.io/dom0nodes/status", "update"));
  }

  @Test
  void eachServiceAccountIsBoundToItsOwnRoleAndTheWorkloadsUseThem() {
    for (String part : List.of("operator", "agent")) {
      ClusterRoleBinding b = chart.one(ClusterRoleBinding.class, Chart.FULLNAME + "-" + part);
      assertThat(b.getRoleRef().getKind()).isEqualTo("ClusterRole");
      assertThat(b.getRoleRef().getName()).isEqualTo(Chart.FULLNAME + "-" + part);
      assertThat(b.getSubjects())
          .singleElement()
          .satisfies(
              s -> {
                assertThat(s.getKind()).isEqualTo("ServiceAccount");
                assertThat(s.getName()).isEqualTo(Chart.FULLNAME + "-" + part);
                assertThat(s.getNamespace()).isEqualTo(Chart.NAMESPACE);
              });
    }
    assertThat(chart.operator().getSpec().getTemplate().getSpec().getServiceAccountName())
        .isEqualTo(Chart.FULLNAME + "-operator");
    assertThat(chart.agent().getSpec().getTemplate().getSpec().getServiceAccountName())
        .isEqualTo(Chart.FULLNAME + "-agent");
  }

  @Test
  void noRoleUsesWildcardsResourceNamesOrNonResourceUrls() {
    List<PolicyRule> all = new ArrayList<>();
    chart.objects().stream()
        .filter(ClusterRole.class::isInstance)
        .forEach(o -> all.addAll(((ClusterRole) o).getRules()));
    chart.objects().stream()
        .filter(Role.class::isInstance)
        .forEach(o -> all.addAll(((Role) o).getRules()));
    assertThat(all)
        .isNotEmpty()
        .allSatisfy(
            r -> {
              assertThat(r.getVerbs()).doesNotContain("*");
              assertThat(r.getResources()).doesNotContain("*");
              assertThat(r.getApiGroups()).doesNotContain("*");
              assertThat(r.getNonResourceURLs()).isEmpty();
            });
  }

  /** "group/resource:verb" for every combination a rule grants. */
  static Set<String> grants(List<PolicyRule> rules) {
    return RbacGrants.of(rules);
  }

  static Set<String> expand(String... resourceThenVerbs) {
    Set<String> out = new TreeSet<>();
    for (int i = 0; i < resourceThenVerbs.length; i += 2) {
      for (String v : resourceThenVerbs[i + 1].split(" ")) out.add(resourceThenVerbs[i] + ":" + v);
    }
    return out;
  }
}
