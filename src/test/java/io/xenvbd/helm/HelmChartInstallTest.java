package io.xenvbd.helm;

import static org.assertj.core.api.Assertions.assertThat;

import io.fabric8.kubernetes.api.model.HasMetadata;
import io.fabric8.kubernetes.client.KubernetesClient;
import io.fabric8.kubernetes.client.server.mock.KubernetesCrudDispatcher;
import io.fabric8.kubernetes.client.server.mock.KubernetesMockServer;
import io.fabric8.mockwebserver.Context;
import io.fabric8.mockwebserver.MockWebServer;
import java.util.HashMap;
import java.util.List;
import java.util.stream.Stream;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.Arguments;
import org.junit.jupiter.params.provider.MethodSource;

/**
 * helm template with the defaults and with each documented configuration; every object must parse
 * as a Kubernetes object and be accepted by an API server (the fabric8 mock in CRUD mode).
 */
class HelmChartInstallTest {
  private KubernetesMockServer server;
  private KubernetesClient client;

  static Stream<Arguments> configurations() {
    return Stream.of(
        Arguments.of("defaults", ""),
        Arguments.of(
            "existing token secret",
            """
            agent:
              token: {existingSecret: my-token, key: bearer}
            """),
        Arguments.of(
            "existing TLS secret",
            """
            agent:
              tls: {existingSecret: my-agent-tls}
            """),
        Arguments.of(
            "cert-manager with the chart's CA",
            """
            agent:
              tls:
                certManager: {enabled: true}
            """),
        Arguments.of(
            "cert-manager with an admin's issuer",
            """
            agent:
              tls:
                certManager: {enabled: true, issuerRef: {name: corp-ca, kind: ClusterIssuer}}
            """),
        Arguments.of(
            "one identity per node",
            """
            agent:
              nodes:
                - {name: dom0-a, ips: [10.0.0.5]}
                - {name: dom0-b.example.com, ips: [10.0.0.6, "fd00::6"], dnsNames: [b.example.com]}
            metrics: {enabled: true, serviceMonitor: {enabled: true}}
            """),
        Arguments.of(
            "one identity per node from cert-manager",
            """
            agent:
              nodes: [{name: dom0-a, ips: [10.0.0.5]}]
              tls:
                certManager: {enabled: true}
            """),
        Arguments.of(
            "own-Dom0Node admission policy off",
            """
            agent:
              ownDom0NodePolicy: {enabled: false}
            """),
        Arguments.of(
            "metrics and ServiceMonitors",
            """
            metrics:
              enabled: true
              serviceMonitor: {enabled: true, labels: {release: prom}}
            agent: {metricsRequireToken: true}
            """),
        Arguments.of(
            "custom node selector and tolerations",
            """
            agent:
              nodeSelector: {xenvbd.io/dom0: null, node-role.example.com/xen: "yes"}
              tolerations:
                - {key: dedicated, operator: Equal, value: xen, effect: NoSchedule}
            """),
        Arguments.of(
            "watched namespaces, sources, hostPort",
            """
            operator:
              watchNamespaces: [vms, staging]
              replicas: 1
              leaderElection: {enabled: false}
            agent:
              allowSources: [/srv/rootfs, /var/lib/templates]
              hostNetwork: false
              imagesRoot: /srv/xen/images
            """));
  }

  @BeforeEach
  void freshApiServerWithTheChartsCrds() throws Exception {
    server =
        new KubernetesMockServer(
            new Context(),
            new MockWebServer(),
            new HashMap<>(),
            new KubernetesCrudDispatcher(),
            false);
    server.init();
    client = server.createClient();
    new MockCluster(client).installCrds();
  }

  @AfterEach
  void stop() {
    client.close();
    server.destroy();
  }

  @ParameterizedTest(name = "{0}")
  @MethodSource("configurations")
  void everyRenderedObjectIsAcceptedByTheApiServer(String name, String values) {
    Chart.Rendered chart = Chart.render(values);
    List<HasMetadata> rendered = chart.objects();
    assertThat(chart.names()).anyMatch(n -> n.startsWith("DaemonSet/xv-xenvbd-agent"));
    assertThat(chart.names())
        .contains(
            "Deployment/xv-xenvbd-operator",
            "ServiceAccount/xv-xenvbd-operator",
            "ServiceAccount/xv-xenvbd-agent",
            "ClusterRole/xv-xenvbd-operator",
            "ClusterRole/xv-xenvbd-agent",
            "ClusterRoleBinding/xv-xenvbd-operator",
            "ClusterRoleBinding/xv-xenvbd-agent",
            "Role/xv-xenvbd-operator-leader-election",
            "RoleBinding/xv-xenvbd-operator-leader-election");

    List<HasMetadata> stored = new MockCluster(client).createAll(rendered);

    assertThat(stored).hasSameSizeAs(rendered).doesNotContainNull();
    for (int i = 0; i < rendered.size(); i++) {
      HasMetadata want = rendered.get(i);
      HasMetadata got = stored.get(i);
      assertThat(got.getKind()).isEqualTo(want.getKind());
      assertThat(got.getMetadata().getName()).isEqualTo(want.getMetadata().getName());
      assertThat(got.getMetadata().getLabels())
          .containsEntry("app.kubernetes.io/instance", Chart.RELEASE)
          .containsEntry("app.kubernetes.io/managed-by", "Helm");
    }
    // Namespaced objects land in the release namespace; nothing is left for the default one.
    assertThat(rendered)
        .filteredOn(o -> o.getMetadata().getNamespace() != null)
        .allSatisfy(o -> assertThat(o.getMetadata().getNamespace()).isEqualTo(Chart.NAMESPACE));
  }
}
