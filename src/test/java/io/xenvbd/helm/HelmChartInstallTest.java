package io.xenvbd.helm;

import static io.xenvbd.testing.RealKubeApiServer.ADMIN;
import static org.assertj.core.api.Assertions.assertThat;
import static org.awaitility.Awaitility.await;

import com.marcnuri.helm.Helm;
import com.marcnuri.helm.Release;
import io.fabric8.kubernetes.api.model.HasMetadata;
import io.fabric8.kubernetes.api.model.apiextensions.v1.CustomResourceDefinition;
import io.fabric8.kubernetes.api.model.apiextensions.v1.CustomResourceDefinitionBuilder;
import io.fabric8.kubernetes.client.KubernetesClient;
import io.xenvbd.testing.RealKubeApiServer;
import io.xenvbd.testing.RequiresKubeApiServer;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.List;
import java.util.concurrent.atomic.AtomicInteger;
import java.util.stream.Stream;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.io.TempDir;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.Arguments;
import org.junit.jupiter.params.provider.MethodSource;

/**
 * {@code helm install} with the defaults and with each documented configuration into the real
 * kube-apiserver shared by the test JVM: Helm validates every object against the server's OpenAPI,
 * the server stores each as rendered (read back, labelled for the release), and {@code helm
 * uninstall} takes them away again. Each case is a release and a namespace of its own ({@code
 * hi1}..., {@code helm-install-1}...), so the cases and the other classes on the server never meet:
 * the cluster-scoped objects carry the release's name, and the admission policy binds only that
 * release's agent ServiceAccount.
 */
@RequiresKubeApiServer
class HelmChartInstallTest {
  /**
   * The other operators' APIs the chart may use (cert-manager, Prometheus Operator). Only their
   * names and scope matter here; their own charts install the real CRDs.
   */
  static final List<String[]> FOREIGN =
      List.of(
          new String[] {"cert-manager.io", "v1", "Certificate", "certificates"},
          new String[] {"cert-manager.io", "v1", "Issuer", "issuers"},
          new String[] {"monitoring.coreos.com", "v1", "ServiceMonitor", "servicemonitors"});

  static final AtomicInteger cases = new AtomicInteger();
  static KubernetesClient admin;
  static String kubeconfig;
  static String kubeVersion;
  @TempDir static Path dir;

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

  @BeforeAll
  static void foreignCrds(RealKubeApiServer kube) throws Exception {
    admin = kube.client(ADMIN);
    kubeconfig = Files.readString(kube.kubeconfig(ADMIN));
    kubeVersion = "v" + kube.binaries().version();
    for (String[] api : FOREIGN) {
      CustomResourceDefinition crd = crd(api[0], api[1], api[2], api[3]);
      admin
          .apiextensions()
          .v1()
          .customResourceDefinitions()
          .resource(crd)
          .fieldManager("xenvbd-tests")
          .forceConflicts()
          .serverSideApply();
      await()
          .atMost(Duration.ofSeconds(30))
          .until(
              () ->
                  admin
                      .apiextensions()
                      .v1()
                      .customResourceDefinitions()
                      .withName(crd.getMetadata().getName())
                      .get()
                      .getStatus()
                      .getConditions()
                      .stream()
                      .anyMatch(
                          c -> c.getType().equals("Established") && c.getStatus().equals("True")));
    }
  }

  @AfterAll
  static void close() {
    if (admin != null) admin.close();
  }

  @ParameterizedTest(name = "{0}")
  @MethodSource("configurations")
  void everyRenderedObjectIsAcceptedByTheApiServer(String name, String values) throws Exception {
    int n = cases.incrementAndGet();
    String release = "hi" + n;
    String namespace = "helm-install-" + n;
    String fullname = release + "-xenvbd";
    Path valuesFile = Files.writeString(dir.resolve(release + ".yaml"), values);
    Release installed;
    try {
      installed =
          new Helm(Chart.DIR)
              .install()
              .withName(release)
              .withNamespace(namespace)
              .createNamespace()
              .withValuesFile(valuesFile)
              .withKubeConfigContents(kubeconfig)
              .call();
      assertThat(installed.getStatus()).isEqualTo("deployed");

      List<HasMetadata> rendered =
          Chart.parse(Chart.template(Chart.DIR, release, namespace, values, kubeVersion));
      List<String> names =
          rendered.stream().map(o -> o.getKind() + "/" + o.getMetadata().getName()).toList();
      assertThat(names).anyMatch(o -> o.startsWith("DaemonSet/" + fullname + "-agent"));
      assertThat(names)
          .contains(
              "Deployment/" + fullname + "-operator",
              "ServiceAccount/" + fullname + "-operator",
              "ServiceAccount/" + fullname + "-agent",
              "ClusterRole/" + fullname + "-operator",
              "ClusterRole/" + fullname + "-agent",
              "ClusterRoleBinding/" + fullname + "-operator",
              "ClusterRoleBinding/" + fullname + "-agent",
              "Role/" + fullname + "-operator-leader-election",
              "RoleBinding/" + fullname + "-operator-leader-election");
      for (HasMetadata want : rendered) {
        String what = want.getKind() + " " + want.getMetadata().getName();
        HasMetadata got = admin.resource(want).inNamespace(namespaceOf(want, namespace)).get();
        assertThat(got).as(what + " stored").isNotNull();
        assertThat(got.getKind()).isEqualTo(want.getKind());
        assertThat(got.getMetadata().getLabels())
            .as(what)
            .containsEntry("app.kubernetes.io/instance", release)
            .containsEntry("app.kubernetes.io/managed-by", "Helm");
      }
      // Namespaced objects land in the release namespace; nothing is left for the default one.
      assertThat(rendered)
          .filteredOn(o -> o.getMetadata().getNamespace() != null)
          .allSatisfy(o -> assertThat(o.getMetadata().getNamespace()).isEqualTo(namespace));
    } finally {
      Helm.uninstall(release).withNamespace(namespace).withKubeConfigContents(kubeconfig).call();
    }
  }

  private static String namespaceOf(HasMetadata object, String releaseNamespace) {
    return object.getMetadata().getNamespace() == null
        ? releaseNamespace
        : object.getMetadata().getNamespace();
  }

  private static CustomResourceDefinition crd(
      String group, String version, String kind, String plural) {
    return new CustomResourceDefinitionBuilder()
        .withNewMetadata()
        .withName(plural + "." + group)
        .endMetadata()
        .withNewSpec()
        .withGroup(group)
        .withScope("Namespaced")
        .withNewNames()
        .withKind(kind)
        .withPlural(plural)
        .endNames()
        .addNewVersion()
        .withName(version)
        .withServed(true)
        .withStorage(true)
        .withNewSchema()
        .withNewOpenAPIV3Schema()
        .withType("object")
        .withXKubernetesPreserveUnknownFields(true)
        .endOpenAPIV3Schema()
        .endSchema()
        .endVersion()
        .endSpec()
        .build();
  }
}
