package io.xenvbd.helm;

import static org.assertj.core.api.Assertions.assertThat;
import static org.awaitility.Awaitility.await;

import io.fabric8.kubernetes.api.model.ObjectMetaBuilder;
import io.fabric8.kubernetes.api.model.rbac.ClusterRole;
import io.fabric8.kubernetes.api.model.rbac.PolicyRule;
import io.fabric8.kubernetes.api.model.rbac.Role;
import io.fabric8.kubernetes.client.Config;
import io.fabric8.kubernetes.client.KubernetesClient;
import io.fabric8.kubernetes.client.KubernetesClientBuilder;
import io.fabric8.kubernetes.client.dsl.base.PatchContext;
import io.fabric8.kubernetes.client.dsl.base.PatchType;
import io.xenvbd.agent.Agent;
import io.xenvbd.api.Conditions;
import io.xenvbd.api.Dom0Node;
import io.xenvbd.api.Populate;
import io.xenvbd.api.VirtualDisk;
import io.xenvbd.api.VirtualDiskSpec;
import io.xenvbd.api.VirtualDiskStatus;
import io.xenvbd.kube.AuditEvent;
import io.xenvbd.kube.EmbeddedApiServer;
import io.xenvbd.local.Wiring;
import io.xenvbd.operator.OperatorConfig;
import io.xenvbd.operator.XenvbdOperator;
import io.xenvbd.testing.RbacGrants;
import io.xenvbd.testing.RequiresRoot;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.TreeMap;
import java.util.function.Predicate;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * RBAC against what the code really calls: the operator and an agent, each with its own client and
 * User-Agent, run a scenario that exercises every call they make against the embedded API, which
 * records each request as an authorizer sees it. Every recorded verb on every resource must be
 * granted by the chart's roles for that service account, and every grant must have been used.
 */
@RequiresRoot
class RbacAgainstRecordedRequestsTest {
  static final String AGENT_UA = "xenvbd-agent";
  static final String OPERATOR_UA = "xenvbd-operator";
  static final String NS = "default";
  static final String NODE = "node-a";

  /**
   * Grants needed in production that this scenario cannot exercise; each entry says why (informer
   * relists use the same list and watch, the agent's 409 path the same get, the SSA status option
   * the same patch). - virtualdisks get: when adding or removing the finalizer meets a 409
   * Conflict, java-operator-sdk 5.2.3 re-reads the disk with a GET and retries
   * (ReconciliationDispatcher.conflictRetryingPatch -> CustomResourceFacade.getResource); the
   * operator's own patches never GET first, so only that conflict path needs the grant. - leases
   * update: never called (fabric8's LeaseLock patches), but java-operator-sdk 5.2.3's
   * LeaderElectionManager.checkLeaseAccess refuses to start unless a SelfSubjectRulesReview lists
   * get, create and update on leases; the embedded API grants everything, a real API server does
   * not (OperatorOnRealApiServerTest).
   */
  static final Set<String> OPERATOR_UNEXERCISED =
      Set.of("xenvbd.io/virtualdisks:get", "coordination.k8s.io/leases:update");

  static final Set<String> AGENT_UNEXERCISED = Set.of();

  @TempDir Path dir;

  @Test
  void eachServiceAccountIsGrantedExactlyWhatItCalled() throws Exception {
    List<AuditEvent> recorded = runScenario();
    Chart.Rendered chart = Chart.render("");
    List<PolicyRule> operatorRules =
        new ArrayList<>(chart.one(ClusterRole.class, Chart.FULLNAME + "-operator").getRules());
    Role leases = chart.one(Role.class, Chart.FULLNAME + "-operator-leader-election");
    operatorRules.addAll(leases.getRules());
    List<PolicyRule> agentRules =
        chart.one(ClusterRole.class, Chart.FULLNAME + "-agent").getRules();

    List<AuditEvent> byOperator =
        recorded.stream().filter(e -> e.userAgent().equals(OPERATOR_UA)).toList();
    List<AuditEvent> byAgent =
        recorded.stream().filter(e -> e.userAgent().equals(AGENT_UA)).toList();
    checkExact("operator", byOperator, operatorRules, OPERATOR_UNEXERCISED);
    checkExact("agent", byAgent, agentRules, AGENT_UNEXERCISED);
    // The Role only works in its own namespace: every lease call must stay in the lease namespace.
    Set<String> leaseGrants = RbacGrants.of(leases.getRules());
    assertThat(byOperator)
        .filteredOn(e -> leaseGrants.contains(key(e)))
        .isNotEmpty()
        .allSatisfy(e -> assertThat(e.namespace()).as(e.toString()).isEqualTo(NS));
  }

  private static void checkExact(
      String who, List<AuditEvent> calls, List<PolicyRule> rules, Set<String> unexercised) {
    Map<String, Integer> used = new TreeMap<>();
    calls.forEach(e -> used.merge(key(e), 1, Integer::sum));
    RbacGrants.assertExact(who, used, rules, unexercised);
  }

  /** "group/resource[/subresource]:verb", the form RbacGrants uses. */
  static String key(AuditEvent e) {
    return e.apiGroup() + "/" + e.rbacResource() + ":" + e.verb();
  }

  /**
   * Everything the operator and the agent can call: create, grow, cordon, delete both ways, the
   * agent stopped (its node turned Unknown by the operator).
   */
  private List<AuditEvent> runScenario() throws Exception {
    Path images = Files.createDirectories(dir.resolve("images"));
    Path sources = Files.createDirectories(dir.resolve("sources"));
    Files.writeString(sources.resolve("hello.txt"), "hello\n");
    Wiring wiring = Wiring.in(dir);
    try (EmbeddedApiServer api = EmbeddedApiServer.startWithProjectCrds(0);
        KubernetesClient admin = api.client();
        KubernetesClient agentKube = client(api, AGENT_UA);
        KubernetesClient operatorKube = client(api, OPERATOR_UA)) {
      Agent agent =
          Agent.start(
              wiring.agent(NODE, images, List.of(sources)).heartbeat(Duration.ofSeconds(1)).build(),
              agentKube);
      XenvbdOperator operator = null;
      boolean agentStopped = false;
      try {
        operator =
            XenvbdOperator.start(
                operatorKube,
                OperatorConfig.builder()
                    .leaderElection(true)
                    .leaseNamespace(NS)
                    .identity("op-1")
                    .build(),
                wiring.agentClients());
        var disks = admin.resources(VirtualDisk.class).inNamespace(NS);
        Populate populate =
            new Populate(
                List.of(new Populate.HostPath(sources.toString(), "/data")),
                null,
                null,
                null,
                null);
        disks
            .resource(disk("fs", spec("32Mi", VirtualDiskSpec.Filesystem.ext4, populate, null)))
            .create();
        disks
            .resource(
                disk(
                    "raw",
                    spec(
                        "16Mi",
                        VirtualDiskSpec.Filesystem.none,
                        null,
                        VirtualDiskSpec.ReclaimPolicy.Retain)))
            .create();
        awaitDisk(admin, "fs", d -> isReady(d));
        awaitDisk(admin, "raw", d -> isReady(d));

        // merge patches without a resourceVersion: the operator and the agent write concurrently
        disks
            .withName("fs")
            .patch(PatchContext.of(PatchType.JSON_MERGE), "{\"spec\":{\"size\":\"64Mi\"}}");
        awaitDisk(
            admin,
            "fs",
            d -> isReady(d) && Long.valueOf(64L << 20).equals(d.getStatus().capacityBytes()));

        cordon(admin, true);
        disks
            .resource(disk("waits", spec("8Mi", VirtualDiskSpec.Filesystem.none, null, null)))
            .create();
        awaitDisk(
            admin,
            "waits",
            d ->
                d.getStatus() != null
                    && d.getStatus().phase() == VirtualDiskStatus.Phase.Pending
                    && Conditions.find(d.getStatus().conditions(), Conditions.SCHEDULED)
                        .map(c -> c.getStatus().equals(Conditions.FALSE))
                        .orElse(false));
        cordon(admin, false);
        awaitDisk(admin, "waits", d -> isReady(d));

        // a drain with nowhere to go: the operator writes the node's Drained condition
        drain(admin, true);
        await()
            .atMost(Duration.ofSeconds(60))
            .until(
                () ->
                    Conditions.find(
                            admin
                                .resources(Dom0Node.class)
                                .withName(NODE)
                                .get()
                                .getStatus()
                                .conditions(),
                            Conditions.DRAINED)
                        .isPresent());
        drain(admin, false);

        for (String name : List.of("fs", "raw", "waits")) disks.withName(name).delete();
        await().atMost(Duration.ofSeconds(60)).until(() -> disks.list().getItems().isEmpty());
        assertThat(images.resolve(NS + "/raw.img")).as("Retain keeps the image").exists();
        assertThat(images.resolve(NS + "/fs.img")).as("Delete removes the image").doesNotExist();

        // the agent stops: the leader turns its Dom0Node's Ready Unknown (a patch of its status)
        agent.close();
        agentStopped = true;
        await()
            .atMost(Duration.ofSeconds(30))
            .until(
                () ->
                    Conditions.find(
                            admin
                                .resources(Dom0Node.class)
                                .withName(NODE)
                                .get()
                                .getStatus()
                                .conditions(),
                            Conditions.READY)
                        .map(c -> c.getStatus().equals(Conditions.UNKNOWN))
                        .orElse(false));
      } finally {
        if (operator != null) operator.close();
        if (!agentStopped) agent.close();
      }
      return api.audit();
    }
  }

  private static void drain(KubernetesClient admin, boolean on) {
    admin
        .resources(Dom0Node.class)
        .withName(NODE)
        .patch(PatchContext.of(PatchType.JSON_MERGE), "{\"spec\":{\"drain\":" + on + "}}");
  }

  private static KubernetesClient client(EmbeddedApiServer api, String userAgent) {
    Config config =
        api.clientConfig()
            .withNamespace(NS)
            .withUserAgent(userAgent)
            .withRequestRetryBackoffLimit(0)
            .build();
    return new KubernetesClientBuilder().withConfig(config).build();
  }

  private static VirtualDisk disk(String name, VirtualDiskSpec spec) {
    VirtualDisk d = new VirtualDisk();
    d.setMetadata(new ObjectMetaBuilder().withNamespace(NS).withName(name).build());
    d.setSpec(spec);
    return d;
  }

  private static VirtualDiskSpec spec(
      String size,
      VirtualDiskSpec.Filesystem fs,
      Populate populate,
      VirtualDiskSpec.ReclaimPolicy policy) {
    return new VirtualDiskSpec(null, size, fs, populate, null, null, null, policy);
  }

  private static boolean isReady(VirtualDisk d) {
    return d.getStatus() != null && Conditions.isTrue(d.getStatus().conditions(), Conditions.READY);
  }

  private static void awaitDisk(
      KubernetesClient admin, String name, Predicate<VirtualDisk> condition) {
    await()
        .atMost(Duration.ofSeconds(60))
        .pollInterval(Duration.ofMillis(200))
        .until(
            () -> {
              VirtualDisk d =
                  admin.resources(VirtualDisk.class).inNamespace(NS).withName(name).get();
              return d != null && condition.test(d);
            });
  }

  private static void cordon(KubernetesClient admin, boolean unschedulable) {
    admin
        .resources(Dom0Node.class)
        .withName(NODE)
        .patch(
            PatchContext.of(PatchType.JSON_MERGE),
            "{\"spec\":{\"unschedulable\":" + unschedulable + "}}");
  }
}
