package io.xenvbd.helm;

import static io.xenvbd.helm.Chart.env;
import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import io.fabric8.kubernetes.api.model.GenericKubernetesResource;
import io.fabric8.kubernetes.api.model.PodSpec;
import io.fabric8.kubernetes.api.model.Service;
import io.fabric8.kubernetes.api.model.Toleration;
import java.util.Map;
import org.junit.jupiter.api.Test;

/** The values an admin changes most, and what each one does to the rendered objects. */
class HelmOptionsTest {
  @Test
  void metricsGiveServicesAndServiceMonitorsThatSelectThePods() {
    var chart =
        Chart.render(
            """
        metrics: {enabled: true, serviceMonitor: {enabled: true, labels: {release: prom}}}
        """);
    Service op = chart.one(Service.class, Chart.FULLNAME + "-operator-metrics");
    Service agent = chart.one(Service.class, Chart.FULLNAME + "-agent-metrics");
    assertThat(chart.operator().getSpec().getTemplate().getMetadata().getLabels())
        .containsAllEntriesOf(op.getSpec().getSelector());
    assertThat(chart.agent().getSpec().getTemplate().getMetadata().getLabels())
        .containsAllEntriesOf(agent.getSpec().getSelector());
    assertThat(op.getSpec().getPorts())
        .singleElement()
        .satisfies(p -> assertThat(p.getPort()).isEqualTo(8080));
    assertThat(agent.getSpec().getClusterIP()).isEqualTo("None");
    var monitors =
        chart.objects().stream()
            .filter(
                o -> o instanceof GenericKubernetesResource && o.getKind().equals("ServiceMonitor"))
            .toList();
    assertThat(monitors)
        .hasSize(2)
        .allSatisfy(m -> assertThat(m.getMetadata().getLabels()).containsEntry("release", "prom"));
  }

  @Test
  void metricsAreOffByDefault() {
    var chart = Chart.render("");
    assertThat(chart.objects())
        .noneMatch(o -> o instanceof Service || o.getKind().equals("ServiceMonitor"));
  }

  @Test
  void serviceMonitorsNeedMetricsEnabled() {
    var chart = Chart.render("metrics: {serviceMonitor: {enabled: true}}");
    assertThat(chart.objects()).noneMatch(o -> o.getKind().equals("ServiceMonitor"));
  }

  @Test
  void nodeSelectorAndTolerationsPlaceTheAgent() {
    var chart =
        Chart.render(
            """
        agent:
          nodeSelector: {xenvbd.io/dom0: null, node-role.example.com/xen: "yes"}
          tolerations:
            - {key: dedicated, operator: Equal, value: xen, effect: NoSchedule}
        """);
    PodSpec pod = chart.agent().getSpec().getTemplate().getSpec();
    // Helm merges maps with the defaults; null removes the default label.
    assertThat(pod.getNodeSelector())
        .containsExactly(Map.entry("node-role.example.com/xen", "yes"));
    assertThat(pod.getTolerations())
        .singleElement()
        .satisfies(
            (Toleration t) -> {
              assertThat(t.getKey()).isEqualTo("dedicated");
              assertThat(t.getValue()).isEqualTo("xen");
              assertThat(t.getEffect()).isEqualTo("NoSchedule");
            });
    assertThat(chart.operator().getSpec().getTemplate().getSpec().getTolerations()).isEmpty();
  }

  @Test
  void allowedSourcesAreMountedReadOnlyAtTheirNodePaths() {
    var chart = Chart.render("agent: {allowSources: [/srv/rootfs, /var/lib/templates]}");
    var c = chart.agentContainer();
    PodSpec pod = chart.agent().getSpec().getTemplate().getSpec();
    assertThat(env(c, "XENVBD_ALLOW_SOURCES").getValue())
        .isEqualTo("/srv/rootfs:/var/lib/templates");
    for (String path : new String[] {"/srv/rootfs", "/var/lib/templates"}) {
      var mount =
          c.getVolumeMounts().stream()
              .filter(m -> m.getMountPath().equals(path))
              .findFirst()
              .orElseThrow();
      assertThat(mount.getReadOnly()).isTrue();
      assertThat(HelmWorkloadsTest.volume(pod, mount.getName()).getHostPath().getPath())
          .isEqualTo(path);
    }
  }

  @Test
  void allowedUrlsAndPrivateHostsReachTheAgentCommaSeparated() {
    var c =
        Chart.render(
                """
        agent:
          allowUrls: ["https://mirror.example/images/", "http://10.0.0.5:8080/rootfs/"]
          allowPrivateHosts: [10.0.0.5, mirror.internal]
        """)
            .agentContainer();
    assertThat(env(c, "XENVBD_ALLOW_URLS").getValue())
        .isEqualTo("https://mirror.example/images/,http://10.0.0.5:8080/rootfs/");
    assertThat(env(c, "XENVBD_ALLOW_PRIVATE_HOSTS").getValue())
        .isEqualTo("10.0.0.5,mirror.internal");
    assertThatThrownBy(
            () -> Chart.render("agent: {allowUrls: [\"https://a.example/x,https://b.example/\"]}"))
        .hasMessageContaining("agent.allowUrls")
        .hasMessageContaining("comma");
    assertThatThrownBy(() -> Chart.render("agent: {allowUrls: [mirror.example/images/]}"))
        .hasMessageContaining("not an http(s) URL prefix");
    assertThatThrownBy(
            () -> Chart.render("agent: {allowPrivateHosts: [\"http://mirror.internal/\"]}"))
        .hasMessageContaining("agent.allowPrivateHosts");
  }

  @Test
  void aSourceOverTheContainersOwnSystemDirectoriesIsRefusedWithAClearMessage() {
    assertThatThrownBy(() -> Chart.render("agent: {allowSources: [/etc]}"))
        .hasMessageContaining("agent.allowSources: \"/etc\" would be mounted over")
        .hasMessageContaining("/srv/xenvbd-sources");
    assertThatThrownBy(() -> Chart.render("agent: {allowSources: [/usr/share]}"))
        .hasMessageContaining("\"/usr/share\"");
    assertThatThrownBy(() -> Chart.render("agent: {allowSources: [srv]}"))
        .hasMessageContaining("not an absolute path");
  }

  @Test
  void withoutHostNetworkTheAgentPortIsAHostPort() {
    var chart = Chart.render("agent: {hostNetwork: false, port: 9443}");
    PodSpec pod = chart.agent().getSpec().getTemplate().getSpec();
    assertThat(pod.getHostNetwork()).isFalse();
    assertThat(pod.getDnsPolicy()).isNull();
    assertThat(chart.agentContainer().getPorts())
        .singleElement()
        .satisfies(
            p -> {
              assertThat(p.getContainerPort()).isEqualTo(9443);
              assertThat(p.getHostPort()).isEqualTo(9443);
            });
    assertThat(env(chart.agentContainer(), "XENVBD_ADVERTISE").getValue())
        .isEqualTo("https://$(HOST_IP):9443");
    assertThat(env(chart.agentContainer(), "XENVBD_LISTEN").getValue()).isEqualTo("0.0.0.0:9443");
  }

  @Test
  void oneOperatorWithoutLeaderElectionAndTheImageFromValues() {
    var chart =
        Chart.render(
            """
        operator: {replicas: 1, leaderElection: {enabled: false}}
        image: {repository: registry.example.com/xenvbd, tag: "1.2.3"}
        """);
    assertThat(chart.operator().getSpec().getReplicas()).isEqualTo(1);
    assertThat(env(chart.operatorContainer(), "XENVBD_LEADER_ELECTION").getValue())
        .isEqualTo("false");
    assertThat(chart.operatorContainer().getImage()).isEqualTo("registry.example.com/xenvbd:1.2.3");
    assertThat(chart.agentContainer().getImage()).isEqualTo("registry.example.com/xenvbd:1.2.3");
  }

  @Test
  void theImageTagDefaultsToTheChartsAppVersion() {
    assertThat(Chart.render("").operatorContainer().getImage())
        .isEqualTo("ghcr.io/xenvbd/xenvbd:" + HelmChartFilesTest.chartYaml().get("appVersion"));
  }
}
