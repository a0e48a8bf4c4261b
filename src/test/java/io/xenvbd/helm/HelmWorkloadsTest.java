package io.xenvbd.helm;

import static io.xenvbd.helm.Chart.env;
import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import io.fabric8.kubernetes.api.model.Container;
import io.fabric8.kubernetes.api.model.EnvVar;
import io.fabric8.kubernetes.api.model.PodSpec;
import io.fabric8.kubernetes.api.model.SecurityContext;
import io.fabric8.kubernetes.api.model.Volume;
import io.fabric8.kubernetes.api.model.VolumeMount;
import io.fabric8.kubernetes.api.model.apps.DaemonSet;
import java.util.List;
import java.util.Map;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;

/** What an admin checks in the operator Deployment and the agent DaemonSet the defaults give. */
class HelmWorkloadsTest {
  /** Every variable the agent reads, from CONFIG_CONTRACT.md (KUBECONFIG: in-cluster instead). */
  static final List<String> AGENT_CONTRACT =
      List.of(
          "NODE_NAME",
          "XENVBD_IMAGES_ROOT",
          "XENVBD_ALLOW_SOURCES",
          "XENVBD_LISTEN",
          "XENVBD_ADVERTISE",
          "XENVBD_TLS_CERT",
          "XENVBD_TLS_KEY",
          "XENVBD_INSECURE_PLAIN_HTTP",
          "XENVBD_TOKEN_FILE",
          "XENVBD_WORKERS",
          "XENVBD_HEARTBEAT_SECONDS",
          "XENVBD_LOOP_WAIT_SECONDS",
          "XENVBD_LOOP_RESERVE",
          "XENVBD_IMPORT_DIR",
          "XENVBD_METRICS_REQUIRE_TOKEN",
          "XENVBD_ALLOW_URLS",
          "XENVBD_ALLOW_PRIVATE_HOSTS",
          "XENVBD_ROTATION_OVERLAP_SECONDS",
          "KUBECONFIG");

  static final List<String> OPERATOR_CONTRACT =
      List.of(
          "XENVBD_NAMESPACES",
          "XENVBD_TOKEN_FILE",
          "XENVBD_AGENT_CA",
          "XENVBD_AGENT_IDENTITY",
          "XENVBD_AGENT_TOKEN_DIR",
          "XENVBD_MANAGEMENT_PORT",
          "XENVBD_LEADER_ELECTION",
          "XENVBD_LEASE_NAMESPACE",
          "XENVBD_LEASE_NAME",
          "POD_NAME",
          "XENVBD_ROTATION_OVERLAP_SECONDS",
          "KUBECONFIG");

  static Chart.Rendered defaults;

  @BeforeAll
  static void render() {
    defaults = Chart.render("");
  }

  @Test
  void operatorRunsTwoReplicasWithLeaderElectionAsAnUnprivilegedNonRootUser() {
    var deployment = defaults.operator();
    PodSpec pod = deployment.getSpec().getTemplate().getSpec();
    Container c = defaults.operatorContainer();

    assertThat(deployment.getSpec().getReplicas()).isEqualTo(2);
    assertThat(env(c, "XENVBD_LEADER_ELECTION").getValue()).isEqualTo("true");
    assertThat(c.getArgs()).containsExactly("operator");
    assertThat(pod.getSecurityContext().getRunAsNonRoot()).isTrue();
    assertThat(pod.getSecurityContext().getSeccompProfile().getType()).isEqualTo("RuntimeDefault");
    SecurityContext sc = c.getSecurityContext();
    assertThat(sc.getPrivileged()).isFalse();
    assertThat(sc.getRunAsNonRoot()).isTrue();
    assertThat(sc.getReadOnlyRootFilesystem()).isTrue();
    assertThat(sc.getAllowPrivilegeEscalation()).isFalse();
    assertThat(sc.getCapabilities().getDrop()).containsExactly("ALL");
    assertThat(sc.getCapabilities().getAdd()).isEmpty();
    assertThat(sc.getSeccompProfile().getType()).isEqualTo("RuntimeDefault");
    assertThat(pod.getHostNetwork()).isNull();
    assertThat(pod.getVolumes()).noneMatch(v -> v.getHostPath() != null);
    assertThat(c.getResources().getRequests()).containsKeys("cpu", "memory");
    assertThat(c.getResources().getLimits()).containsKey("memory");
  }

  @Test
  void operatorProbesUseTheManagementPortAndItsIdentityComesFromTheDownwardApi() {
    Container c = defaults.operatorContainer();

    assertThat(c.getPorts())
        .singleElement()
        .satisfies(
            p -> {
              assertThat(p.getName()).isEqualTo("management");
              assertThat(p.getContainerPort()).isEqualTo(8080);
            });
    assertThat(env(c, "XENVBD_MANAGEMENT_PORT").getValue()).isEqualTo("8080");
    assertThat(c.getLivenessProbe().getHttpGet().getPath()).isEqualTo("/healthz");
    assertThat(c.getLivenessProbe().getHttpGet().getPort().getStrVal()).isEqualTo("management");
    assertThat(c.getReadinessProbe().getHttpGet().getPath()).isEqualTo("/readyz");
    assertThat(c.getReadinessProbe().getHttpGet().getPort().getStrVal()).isEqualTo("management");
    assertThat(env(c, "POD_NAME").getValueFrom().getFieldRef().getFieldPath())
        .isEqualTo("metadata.name");
    assertThat(env(c, "XENVBD_LEASE_NAMESPACE").getValueFrom().getFieldRef().getFieldPath())
        .isEqualTo("metadata.namespace");
    assertThat(env(c, "XENVBD_LEASE_NAME").getValue()).isEqualTo("xenvbd-operator");
  }

  @Test
  void operatorReadsTheTokenAndOnlyTheCaOfTheAgents() {
    Container c = defaults.operatorContainer();
    PodSpec pod = defaults.operator().getSpec().getTemplate().getSpec();

    assertThat(mountedFile(pod, c, env(c, "XENVBD_TOKEN_FILE").getValue()))
        .isEqualTo(Map.entry(Chart.FULLNAME + "-agent-token", "token"));
    assertThat(mountedFile(pod, c, env(c, "XENVBD_AGENT_CA").getValue()))
        .isEqualTo(Map.entry(Chart.FULLNAME + "-agent-tls", "ca.crt"));
    Volume ca = volume(pod, "agent-ca");
    assertThat(ca.getSecret().getItems()).extracting(i -> i.getKey()).containsExactly("ca.crt");
  }

  @Test
  void agentIsPrivilegedOnlyOnDom0NodesAndAdvertisesItsNodeAddress() {
    PodSpec pod = defaults.agent().getSpec().getTemplate().getSpec();
    Container c = defaults.agentContainer();

    assertThat(c.getSecurityContext().getPrivileged()).isTrue();
    assertThat(c.getSecurityContext().getRunAsUser()).isZero();
    assertThat(c.getArgs()).containsExactly("agent");
    assertThat(pod.getNodeSelector()).containsExactly(Map.entry("xenvbd.io/dom0", "true"));
    assertThat(pod.getHostNetwork()).isTrue();
    assertThat(pod.getHostPID()).as("sees every process that may hold an image open").isTrue();
    assertThat(pod.getDnsPolicy()).isEqualTo("ClusterFirstWithHostNet");
    assertThat(c.getPorts())
        .singleElement()
        .satisfies(
            p -> {
              assertThat(p.getContainerPort()).isEqualTo(8443);
              assertThat(p.getHostPort()).isEqualTo(8443);
            });
    assertThat(env(c, "NODE_NAME").getValueFrom().getFieldRef().getFieldPath())
        .isEqualTo("spec.nodeName");
    assertThat(env(c, "HOST_IP").getValueFrom().getFieldRef().getFieldPath())
        .isEqualTo("status.hostIP");
    assertThat(env(c, "XENVBD_ADVERTISE").getValue()).isEqualTo("https://$(HOST_IP):8443");
    assertThat(env(c, "XENVBD_LISTEN").getValue()).isEqualTo("0.0.0.0:8443");
    // $(HOST_IP) expands only when HOST_IP is defined earlier in the list.
    List<String> names = c.getEnv().stream().map(EnvVar::getName).toList();
    assertThat(names.indexOf("HOST_IP")).isLessThan(names.indexOf("XENVBD_ADVERTISE"));
    for (var probe : List.of(c.getLivenessProbe(), c.getReadinessProbe())) {
      assertThat(probe.getHttpGet().getScheme()).isEqualTo("HTTPS");
      assertThat(probe.getHttpGet().getPort().getStrVal()).isEqualTo("https");
    }
    assertThat(c.getLivenessProbe().getHttpGet().getPath()).isEqualTo("/healthz");
    assertThat(c.getReadinessProbe().getHttpGet().getPath()).isEqualTo("/readyz");
  }

  @Test
  void agentSeesTheImagesRootAndDevOfItsNodeAndTheTokenAndTlsFromSecrets() {
    PodSpec pod = defaults.agent().getSpec().getTemplate().getSpec();
    Container c = defaults.agentContainer();

    assertThat(env(c, "XENVBD_IMAGES_ROOT").getValue()).isEqualTo("/var/lib/xen/images");
    assertThat(volume(pod, "images").getHostPath().getPath()).isEqualTo("/var/lib/xen/images");
    assertThat(mount(c, "images").getMountPath()).isEqualTo("/var/lib/xen/images");
    assertThat(volume(pod, "dev").getHostPath().getPath()).isEqualTo("/dev");
    assertThat(mount(c, "dev").getMountPath()).isEqualTo("/dev");
    assertThat(mountedFile(pod, c, env(c, "XENVBD_TOKEN_FILE").getValue()))
        .isEqualTo(Map.entry(Chart.FULLNAME + "-agent-token", "token"));
    assertThat(mountedFile(pod, c, env(c, "XENVBD_TLS_CERT").getValue()))
        .isEqualTo(Map.entry(Chart.FULLNAME + "-agent-tls", "tls.crt"));
    assertThat(mountedFile(pod, c, env(c, "XENVBD_TLS_KEY").getValue()))
        .isEqualTo(Map.entry(Chart.FULLNAME + "-agent-tls", "tls.key"));
  }

  @Test
  void theLoopReserveAndTheImportDirectoryAreHelmValuesAndTheImportSharesOneMountWithTheImages() {
    Container c = defaults.agentContainer();
    assertThat(env(c, "XENVBD_LOOP_RESERVE").getValue()).isEqualTo("2");
    assertThat(names(c)).doesNotContain("XENVBD_IMPORT_DIR");

    Chart.Rendered r = Chart.render("agent: {loopReserve: 5, importDir: /var/lib/xen/import}");
    Container a = r.agentContainer();
    PodSpec pod = r.agent().getSpec().getTemplate().getSpec();
    assertThat(env(a, "XENVBD_LOOP_RESERVE").getValue()).isEqualTo("5");
    assertThat(env(a, "XENVBD_IMPORT_DIR").getValue()).isEqualTo("/var/lib/xen/import");
    assertThat(env(a, "XENVBD_IMAGES_ROOT").getValue()).isEqualTo("/var/lib/xen/images");
    // one mount holds both, so that adoption's rename(2) does not cross mounts (EXDEV)
    assertThat(volume(pod, "images").getHostPath().getPath()).isEqualTo("/var/lib/xen");
    assertThat(mount(a, "images").getMountPath()).isEqualTo("/var/lib/xen");

    assertThatThrownBy(() -> Chart.template("agent: {importDir: /srv/import}"))
        .hasMessageContaining("must sit beside agent.imagesRoot");
    assertThatThrownBy(() -> Chart.template("agent: {imagesRoot: /images, importDir: /import}"))
        .hasMessageContaining("would be mounted over the agent container's own /");
    assertThatThrownBy(() -> Chart.template("agent: {importDir: import}"))
        .hasMessageContaining("is not an absolute path");
  }

  @Test
  void environmentVariablesAreExactlyTheContractsNames() {
    // Optional values switched on, so that every variable the chart can set is rendered.
    var all =
        Chart.render(
            """
        operator: {watchNamespaces: [a, b]}
        agent: {allowSources: [/srv/rootfs], allowUrls: ["https://mirror.example/"], allowPrivateHosts: [mirror.internal], importDir: /var/lib/xen/import}
        """);
    assertThat(names(all.agentContainer()))
        .containsExactlyInAnyOrder(
            "NODE_NAME",
            "HOST_IP",
            "XENVBD_IMAGES_ROOT",
            "XENVBD_ALLOW_SOURCES",
            "XENVBD_LISTEN",
            "XENVBD_ADVERTISE",
            "XENVBD_TLS_CERT",
            "XENVBD_TLS_KEY",
            "XENVBD_TOKEN_FILE",
            "XENVBD_WORKERS",
            "XENVBD_HEARTBEAT_SECONDS",
            "XENVBD_LOOP_WAIT_SECONDS",
            "XENVBD_LOOP_RESERVE",
            "XENVBD_IMPORT_DIR",
            "XENVBD_METRICS_REQUIRE_TOKEN",
            "XENVBD_ALLOW_URLS",
            "XENVBD_ALLOW_PRIVATE_HOSTS",
            "XENVBD_ROTATION_OVERLAP_SECONDS");
    assertThat(names(all.operatorContainer()))
        .containsExactlyInAnyOrder(
            "XENVBD_NAMESPACES",
            "XENVBD_TOKEN_FILE",
            "XENVBD_AGENT_CA",
            "XENVBD_AGENT_IDENTITY",
            "XENVBD_MANAGEMENT_PORT",
            "XENVBD_LEADER_ELECTION",
            "XENVBD_LEASE_NAMESPACE",
            "XENVBD_LEASE_NAME",
            "POD_NAME",
            "XENVBD_ROTATION_OVERLAP_SECONDS");
    // HOST_IP is the chart's own helper for $(HOST_IP) in XENVBD_ADVERTISE, not a flag.
    assertThat(names(all.agentContainer()))
        .filteredOn(n -> !n.equals("HOST_IP"))
        .isSubsetOf(AGENT_CONTRACT);
    assertThat(names(all.operatorContainer())).isSubsetOf(OPERATOR_CONTRACT);
    assertThat(
            names(
                Chart.render("agent: {nodes: [{name: dom0-a, ips: [10.0.0.5]}]}")
                    .operatorContainer()))
        .contains("XENVBD_AGENT_TOKEN_DIR")
        .isSubsetOf(OPERATOR_CONTRACT);
    assertThat(env(all.operatorContainer(), "XENVBD_NAMESPACES").getValue()).isEqualTo("a,b");
  }

  @Test
  void credentialsAreMountedAsWholeSecretVolumesSoThatRotatedSecretsReachTheRunningPods() {
    // The kubelet never updates a subPath mount: a rotated token or certificate would not arrive.
    var perNode = Chart.render("agent: {nodes: [{name: dom0-a, ips: [10.0.0.5]}]}");
    for (Container c :
        List.of(
            defaults.agentContainer(),
            defaults.operatorContainer(),
            perNode
                .one(DaemonSet.class, Chart.FULLNAME + "-agent-dom0-a")
                .getSpec()
                .getTemplate()
                .getSpec()
                .getContainers()
                .get(0),
            perNode.operatorContainer())) {
      assertThat(c.getVolumeMounts())
          .as(c.getName() + "'s mounts")
          .allSatisfy(m -> assertThat(m.getSubPath()).as(m.getName()).isNull());
      assertThat(env(c, "XENVBD_ROTATION_OVERLAP_SECONDS").getValue()).isEqualTo("600");
    }
    assertThat(
            env(
                    Chart.render("rotationOverlapSeconds: 90").agentContainer(),
                    "XENVBD_ROTATION_OVERLAP_SECONDS")
                .getValue())
        .isEqualTo("90");
  }

  @Test
  void theDefaultsLeaveOptionalVariablesToTheProgramsDefaults() {
    // Unset means "all namespaces" and "no source directories": an empty string might not.
    assertThat(names(defaults.operatorContainer())).doesNotContain("XENVBD_NAMESPACES");
    assertThat(names(defaults.agentContainer())).doesNotContain("XENVBD_ALLOW_SOURCES");
    // Unset means "no archive URL, no private host" in the agent too.
    assertThat(names(defaults.agentContainer()))
        .doesNotContain("XENVBD_ALLOW_URLS", "XENVBD_ALLOW_PRIVATE_HOSTS");
  }

  static List<String> names(Container c) {
    return c.getEnv().stream().map(EnvVar::getName).toList();
  }

  static Volume volume(PodSpec pod, String name) {
    return pod.getVolumes().stream()
        .filter(v -> v.getName().equals(name))
        .findFirst()
        .orElseThrow(() -> new AssertionError("no volume " + name));
  }

  static VolumeMount mount(Container c, String name) {
    return c.getVolumeMounts().stream()
        .filter(m -> m.getName().equals(name))
        .findFirst()
        .orElseThrow(() -> new AssertionError("no mount of " + name));
  }

  /** Which Secret and key a file path in the container comes from. */
  static Map.Entry<String, String> mountedFile(PodSpec pod, Container c, String path) {
    for (VolumeMount m : c.getVolumeMounts()) {
      if (!path.startsWith(m.getMountPath() + "/")) continue;
      String relative = path.substring(m.getMountPath().length() + 1);
      var secret = volume(pod, m.getName()).getSecret();
      assertThat(secret).as("volume " + m.getName() + " is a Secret").isNotNull();
      assertThat(m.getReadOnly()).as("mount of " + m.getName() + " is read-only").isTrue();
      var item =
          secret.getItems().stream()
              .filter(i -> i.getPath().equals(relative))
              .findFirst()
              .orElseThrow(() -> new AssertionError(path + " is not projected by " + m.getName()));
      return Map.entry(secret.getSecretName(), item.getKey());
    }
    throw new AssertionError(path + " is under no mount of " + c.getName());
  }
}
