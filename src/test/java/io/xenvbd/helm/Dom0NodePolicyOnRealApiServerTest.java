package io.xenvbd.helm;

import static io.xenvbd.testing.RealKubeApiServer.ADMIN;
import static io.xenvbd.testing.RealKubeApiServer.AGENT;
import static io.xenvbd.testing.RealKubeApiServer.NAMESPACE;
import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.catchThrowableOfType;
import static org.awaitility.Awaitility.await;

import io.fabric8.kubernetes.api.model.HasMetadata;
import io.fabric8.kubernetes.api.model.NamespaceBuilder;
import io.fabric8.kubernetes.api.model.NodeBuilder;
import io.fabric8.kubernetes.api.model.ObjectMetaBuilder;
import io.fabric8.kubernetes.api.model.Pod;
import io.fabric8.kubernetes.api.model.PodBuilder;
import io.fabric8.kubernetes.api.model.admissionregistration.v1.ValidatingAdmissionPolicy;
import io.fabric8.kubernetes.api.model.admissionregistration.v1.ValidatingAdmissionPolicyBinding;
import io.fabric8.kubernetes.api.model.authentication.TokenRequest;
import io.fabric8.kubernetes.api.model.authentication.TokenRequestBuilder;
import io.fabric8.kubernetes.client.KubernetesClient;
import io.fabric8.kubernetes.client.KubernetesClientBuilder;
import io.fabric8.kubernetes.client.KubernetesClientException;
import io.xenvbd.api.Dom0Node;
import io.xenvbd.api.Dom0NodeSpec;
import io.xenvbd.api.Dom0NodeStatus;
import io.xenvbd.testing.ProjectCrds;
import io.xenvbd.testing.RealKubeApiServer;
import io.xenvbd.testing.RequiresKubeApiServer;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.Set;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;

/**
 * The chart's ValidatingAdmissionPolicy on the real kube-apiserver, with the identity a kubelet
 * gives an agent pod: a ServiceAccount token bound to the pod (TokenRequest with a boundObjectRef),
 * which for a pod with spec.nodeName on an existing Node carries the node's name, and which the
 * server turns into the request's userInfo.extra["authentication.kubernetes.io/node-name"]. The
 * agent on dom0-a may write Dom0Node dom0-a and not dom0-b; a token without the claim writes none.
 * The policy binds only the chart's agent ServiceAccount and is removed after the class (it would
 * refuse the other classes' agents, whose tokens carry no node).
 */
@RequiresKubeApiServer
class Dom0NodePolicyOnRealApiServerTest {
  static final String POLICY = Chart.FULLNAME + "-agent-own-dom0node";
  static final Set<String> RBAC_KINDS =
      Set.of("ServiceAccount", "ClusterRole", "ClusterRoleBinding", "Role", "RoleBinding");
  static RealKubeApiServer kube;
  static KubernetesClient admin;
  static final List<KubernetesClient> clients = new ArrayList<>();

  @BeforeAll
  static void start(RealKubeApiServer server) {
    kube = server;
    admin = kube.client(ADMIN);
    ProjectCrds.install(admin);
    admin
        .namespaces()
        .resource(
            new NamespaceBuilder().withNewMetadata().withName(NAMESPACE).endMetadata().build())
        .serverSideApply();
    Chart.Rendered chart = Chart.render("");
    for (HasMetadata o : chart.objects()) {
      if (RBAC_KINDS.contains(o.getKind()))
        admin.resource(o).inNamespace(NAMESPACE).serverSideApply();
    }
    for (String node : List.of("dom0-a", "dom0-b")) {
      admin.resources(Dom0Node.class).withName(node).delete();
      admin
          .nodes()
          .resource(new NodeBuilder().withNewMetadata().withName(node).endMetadata().build())
          .serverSideApply();
    }
    admin.resource(chart.one(ValidatingAdmissionPolicy.class, POLICY)).serverSideApply();
    admin.resource(chart.one(ValidatingAdmissionPolicyBinding.class, POLICY)).serverSideApply();
  }

  @AfterAll
  static void stop() {
    try {
      if (admin == null) return;
      admin
          .admissionRegistration()
          .v1()
          .validatingAdmissionPolicyBindings()
          .withName(POLICY)
          .delete();
      admin.admissionRegistration().v1().validatingAdmissionPolicies().withName(POLICY).delete();
      // Until the server has dropped the policy, the next classes' agents would be refused.
      try (KubernetesClient agent = kube.client(AGENT)) {
        await()
            .atMost(Duration.ofSeconds(30))
            .pollInterval(Duration.ofMillis(500))
            .ignoreExceptions()
            .until(
                () -> {
                  agent.resource(dom0Node("policy-gone")).create();
                  return true;
                });
      }
      for (String n : List.of("dom0-a", "dom0-b", "policy-gone")) {
        admin.resources(Dom0Node.class).withName(n).delete();
      }
      admin.pods().inNamespace(NAMESPACE).withLabel("xenvbd.test", "policy").delete();
      for (String n : List.of("dom0-a", "dom0-b")) admin.nodes().withName(n).delete();
    } finally {
      clients.forEach(KubernetesClient::close);
      if (admin != null) admin.close();
    }
  }

  static Dom0Node dom0Node(String name) {
    Dom0Node n = new Dom0Node();
    n.setMetadata(new ObjectMetaBuilder().withName(name).build());
    n.setSpec(new Dom0NodeSpec(false, null));
    return n;
  }

  /**
   * The agent of the pod on {@code node}: the chart's agent ServiceAccount with a token bound to
   * that pod, as the kubelet mounts it.
   */
  static KubernetesClient agentOn(String node) {
    Pod pod =
        admin
            .pods()
            .inNamespace(NAMESPACE)
            .resource(
                new PodBuilder()
                    .withNewMetadata()
                    .withName("agent-" + node)
                    .addToLabels("xenvbd.test", "policy")
                    .endMetadata()
                    .withNewSpec()
                    .withNodeName(node)
                    .withServiceAccountName(Chart.FULLNAME + "-agent")
                    .addNewContainer()
                    .withName("agent")
                    .withImage("xenvbd:never-pulled")
                    .endContainer()
                    .endSpec()
                    .build())
            .createOr(existing -> existing.update());
    TokenRequest request =
        new TokenRequestBuilder()
            .withNewSpec()
            .withExpirationSeconds(3600L)
            .withNewBoundObjectRef()
            .withApiVersion("v1")
            .withKind("Pod")
            .withName(pod.getMetadata().getName())
            .withUid(pod.getMetadata().getUid())
            .endBoundObjectRef()
            .endSpec()
            .build();
    String token =
        admin
            .serviceAccounts()
            .inNamespace(NAMESPACE)
            .withName(Chart.FULLNAME + "-agent")
            .tokenRequest(request)
            .getStatus()
            .getToken();
    KubernetesClient c =
        new KubernetesClientBuilder()
            .withConfig(kube.clientConfig(ADMIN).withOauthToken(token).build())
            .build();
    clients.add(c);
    return c;
  }

  /** A status an agent would write (no disks yet). */
  static Dom0NodeStatus status() {
    return new Dom0NodeStatus(null, null, null, 0, List.of(), List.of());
  }

  static KubernetesClientException refused(Runnable call) {
    KubernetesClientException e = catchThrowableOfType(KubernetesClientException.class, call::run);
    assertThat(e).as("refused").isNotNull();
    return e;
  }

  @Test
  void anAgentWritesItsOwnDom0NodeAndNoOtherAndATokenWithoutANodeWritesNone() {
    KubernetesClient a = agentOn("dom0-a");
    KubernetesClient b = agentOn("dom0-b");
    // The policy is enforced once the server has loaded it: until then agent A's write of dom0-b
    // would pass, so wait for the refusal (and undo a write that got through).
    await()
        .atMost(Duration.ofSeconds(30))
        .pollInterval(Duration.ofMillis(500))
        .until(
            () -> {
              try {
                a.resource(dom0Node("dom0-b")).create();
                admin.resources(Dom0Node.class).withName("dom0-b").delete();
                return false;
              } catch (KubernetesClientException e) {
                return e.getCode() == 403 || e.getCode() == 422;
              }
            });

    KubernetesClientException other = refused(() -> a.resource(dom0Node("dom0-b")).create());
    assertThat(other.getStatus().getMessage())
        .contains("the xenvbd agent on node dom0-a may write only Dom0Node dom0-a, not dom0-b");
    assertThat(admin.resources(Dom0Node.class).withName("dom0-b").get()).isNull();

    Dom0Node own = a.resource(dom0Node("dom0-a")).create();
    own.setStatus(status());
    assertThat(a.resource(own).updateStatus()).isNotNull();

    Dom0Node theirs = b.resource(dom0Node("dom0-b")).create();
    theirs.setStatus(status());
    Dom0Node asSeenByA = a.resources(Dom0Node.class).withName("dom0-b").get();
    asSeenByA.setStatus(status());
    assertThat(refused(() -> a.resource(asSeenByA).updateStatus()).getStatus().getMessage())
        .contains("may write only Dom0Node dom0-a, not dom0-b");
    assertThat(b.resource(theirs).updateStatus()).as("dom0-b's own agent").isNotNull();

    try (KubernetesClient noNode = kube.client(AGENT)) {
      assertThat(
              refused(() -> noNode.resource(dom0Node("dom0-c")).create()).getStatus().getMessage())
          .contains("its service account token must name that node");
    }
    assertThat(admin.resources(Dom0Node.class).withName("dom0-c").get()).isNull();
  }
}
