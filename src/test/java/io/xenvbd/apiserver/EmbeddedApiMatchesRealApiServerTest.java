package io.xenvbd.apiserver;

import static io.xenvbd.testing.RealKubeApiServer.ADMIN;
import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.catchThrowableOfType;

import io.fabric8.kubernetes.api.model.GenericKubernetesResource;
import io.fabric8.kubernetes.api.model.NamespaceBuilder;
import io.fabric8.kubernetes.client.KubernetesClient;
import io.fabric8.kubernetes.client.KubernetesClientException;
import io.xenvbd.api.Validation;
import io.xenvbd.kube.EmbeddedApiServer;
import io.xenvbd.testing.Exec;
import io.xenvbd.testing.Kubectl;
import io.xenvbd.testing.ProjectCrds;
import io.xenvbd.testing.RealKubeApiServer;
import io.xenvbd.testing.RequiresKubeApiServer;
import java.nio.file.Path;
import java.util.List;
import java.util.Map;
import java.util.stream.Stream;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.Arguments;
import org.junit.jupiter.params.provider.MethodSource;

/**
 * Local mode's embedded API against the real kube-apiserver, with the real one as the judge: the
 * same manifest must be refused by both with the same message, and what the real one admits the
 * embedded one must admit and keep working with. Differences that remain are listed in
 * docs/local-mode.md.
 */
@RequiresKubeApiServer
class EmbeddedApiMatchesRealApiServerTest {
  static final String NS = "parity";
  static KubernetesClient real;
  static EmbeddedApiServer embeddedServer;
  static KubernetesClient embedded;
  static RealKubeApiServer kube;
  @TempDir static Path dir;

  @BeforeAll
  static void start(RealKubeApiServer server) {
    kube = server;
    real = kube.client(ADMIN);
    ProjectCrds.install(real);
    real.namespaces()
        .resource(new NamespaceBuilder().withNewMetadata().withName(NS).endMetadata().build())
        .serverSideApply();
    embeddedServer = EmbeddedApiServer.startWithProjectCrds(0);
    embedded = embeddedServer.client();
    embedded
        .namespaces()
        .resource(new NamespaceBuilder().withNewMetadata().withName(NS).endMetadata().build())
        .serverSideApply();
  }

  @AfterAll
  static void stop() {
    if (real != null) real.close();
    if (embedded != null) embedded.close();
    if (embeddedServer != null) embeddedServer.close();
  }

  static Stream<Arguments> badInput() {
    return Stream.of(
        Arguments.of(
            "unknown-filesystem",
            "size: 2Gi\nfilesystem: btrfs",
            "spec.filesystem: Unsupported value: \"btrfs\": supported values: \"ext2\", \"ext3\", \"ext4\", \"none\", \"xfs\""),
        Arguments.of(
            "not-a-quantity",
            "size: two-gigs",
            "spec.size: Invalid value: \"two-gigs\": spec.size in body should match"),
        Arguments.of(
            "clone-and-archive",
            "size: 2Gi\npopulate: {cloneFrom: {name: base}, archive: {source: /srv/a.tar}}",
            "spec.populate: Invalid value: \"object\": populate.cloneFrom copies a whole image and cannot be combined"
                + " with archive or hostPaths"),
        Arguments.of(
            "xfs-too-small",
            "size: 100Mi\nfilesystem: xfs",
            "spec: Invalid value: \"object\": " + Validation.XFS_TOO_SMALL),
        Arguments.of(
            "relative-host-path",
            "size: 2Gi\npopulate: {hostPaths: [{path: etc}]}",
            "spec.populate.hostPaths[0].path: Invalid value: \"etc\": spec.populate.hostPaths[0].path in body should match"),
        Arguments.of("no-size", "filesystem: ext4", "spec.size: Required value"));
  }

  @ParameterizedTest(name = "{0}")
  @MethodSource("badInput")
  void badInputIsRefusedByBothWithTheRealServersMessage(String name, String spec, String message) {
    GenericKubernetesResource yaml = VirtualDisks.of(name, spec);
    KubernetesClientException onReal = refusal(real, yaml);
    assertThat(onReal.getCode()).isEqualTo(422);
    assertThat(onReal.getStatus().getMessage()).contains(message);
    KubernetesClientException onEmbedded = refusal(embedded, yaml);
    assertThat(onEmbedded.getCode()).isEqualTo(422);
    assertThat(onEmbedded.getStatus().getMessage()).contains(message);
  }

  @Test
  void shrinkingIsRefusedByBothWithTheSameMessage() {
    for (KubernetesClient client : new KubernetesClient[] {real, embedded}) {
      client.resource(VirtualDisks.of("shrink", "size: 2Gi")).inNamespace(NS).create();
      KubernetesClientException e =
          refusal(
              () ->
                  client.resource(VirtualDisks.of("shrink", "size: 1Gi")).inNamespace(NS).update());
      assertThat(e.getCode()).isEqualTo(422);
      assertThat(e.getStatus().getMessage())
          .contains("spec: Invalid value: \"object\": spec.size may grow but never shrink");
    }
  }

  @Test
  void anExabyteDiskIsAdmittedByBothAndStaysUpdatable() {
    for (KubernetesClient client : new KubernetesClient[] {real, embedded}) {
      GenericKubernetesResource vd =
          client.resource(VirtualDisks.of("exabyte", "size: 1Ei")).inNamespace(NS).create();
      // What the operator does first: add its finalizer. Every update runs the transition rules
      // (quantity(self.size) against quantity(oldSelf.size)) on 1Ei.
      vd.getMetadata().setFinalizers(List.of("xenvbd.io/image"));
      GenericKubernetesResource updated = client.resource(vd).inNamespace(NS).update();
      assertThat(updated.getMetadata().getFinalizers()).containsExactly("xenvbd.io/image");
      @SuppressWarnings("unchecked")
      Map<String, Object> spec =
          (Map<String, Object>) updated.getAdditionalProperties().get("spec");
      assertThat(spec).containsEntry("size", "1Ei");
      updated.getMetadata().setFinalizers(List.of());
      client.resource(updated).inNamespace(NS).update();
    }
  }

  @Test
  void kubectlExplainDescribesPopulateOnTheEmbeddedApiAsOnTheRealOne() {
    Path kubeconfig = dir.resolve("embedded.kubeconfig");
    embeddedServer.writeKubeconfig(kubeconfig);
    Kubectl onEmbedded = new Kubectl(Kubectl.SYSTEM, kubeconfig);
    Kubectl onReal = new Kubectl(Kubectl.SYSTEM, kube.kubeconfig(ADMIN));
    for (String field :
        new String[] {
          "vd.spec.populate", "virtualdisks.spec.populate.hostPaths", "dom0nodes.spec"
        }) {
      Exec.Result expected = onReal.run("explain", field);
      assertThat(expected.exit()).as(expected.all()).isZero();
      Exec.Result actual = onEmbedded.run("explain", field);
      assertThat(actual.exit()).as(actual.all()).isZero();
      assertThat(actual.out()).as(field).isEqualTo(expected.out());
    }
  }

  private static KubernetesClientException refusal(
      KubernetesClient client, GenericKubernetesResource vd) {
    return refusal(() -> client.resource(vd).inNamespace(NS).create());
  }

  private static KubernetesClientException refusal(Runnable call) {
    KubernetesClientException e = catchThrowableOfType(KubernetesClientException.class, call::run);
    assertThat(e).as("the server admitted it").isNotNull();
    return e;
  }
}
