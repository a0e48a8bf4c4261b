package io.xenvbd.testing;

import static org.assertj.core.api.Assertions.assertThat;

import io.fabric8.kubernetes.api.model.rbac.PolicyRule;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.TreeSet;

/**
 * RBAC rules compared with the calls really made, in one form: "group/resource[/subresource]:verb"
 * (the core group is empty, so core events read "/events:create"). Used against the embedded API's
 * recorded requests and against the real API server's audit log.
 */
public final class RbacGrants {
  /**
   * Granted to every authenticated user by the cluster's own system:basic-user role, not by the
   * chart.
   */
  public static final Set<String> CLUSTER_DEFAULTS =
      Set.of(
          "authorization.k8s.io/selfsubjectrulesreviews:create",
          "authorization.k8s.io/selfsubjectaccessreviews:create");

  private RbacGrants() {}

  /** Every grant key the rules give. */
  public static Set<String> of(List<PolicyRule> rules) {
    Set<String> out = new TreeSet<>();
    for (PolicyRule r : rules) {
      for (String g : r.getApiGroups()) {
        for (String res : r.getResources()) {
          for (String v : r.getVerbs()) out.add(g + "/" + res + ":" + v);
        }
      }
    }
    return out;
  }

  /**
   * Asserts that {@code rules} grant every key in {@code used} (bar the cluster's defaults) and
   * that every grant was used, except those in {@code unexercised} (each justified where it is
   * declared), which must themselves be real grants. Prints the calls and the unused grants either
   * way.
   */
  public static void assertExact(
      String who, Map<String, Integer> used, List<PolicyRule> rules, Set<String> unexercised) {
    Set<String> granted = of(rules);
    StringBuilder table = new StringBuilder(who + " calls:\n");
    used.forEach((k, n) -> table.append("  ").append(k).append(" x").append(n).append('\n'));
    Set<String> unused = new TreeSet<>(granted);
    unused.removeAll(used.keySet());
    table
        .append(who)
        .append(" grants never used: ")
        .append(unused)
        .append(" (allowed: ")
        .append(unexercised)
        .append(")");
    System.out.println(table);
    assertThat(used).as(who + " made no calls: is it talking to this API server?").isNotEmpty();
    Set<String> missing = new TreeSet<>(used.keySet());
    missing.removeAll(granted);
    missing.removeAll(CLUSTER_DEFAULTS);
    assertThat(missing)
        .as(who + " calls that its roles in helm/xenvbd/templates/rbac.yaml do not grant")
        .isEmpty();
    unused.removeAll(unexercised);
    assertThat(unused)
        .as(who + " grants never used: remove them from rbac.yaml or justify them in the allowlist")
        .isEmpty();
    assertThat(unexercised).as(who + " allowlist entries must be real grants").isSubsetOf(granted);
  }
}
