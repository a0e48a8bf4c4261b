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
import java.util.ArrayList;
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

  /** A disk with every build-time field set, as a user applies it. */
  static final String BUILT =
      "size: 64Mi\npopulate: {createDirs: [/proc]}\ntailor: {hostname: vm1}\npreallocate: true";

  /**
   * Each build-time field changed, added or removed, with kubectl patch (merge and JSON) or kubectl
   * apply: {case, the disk as created, the edit, the message}. A kubectl argument list starting
   * with "apply" gets the edited manifest on stdin.
   */
  static Stream<Arguments> buildTimeEdits() {
    return Stream.of(
        Arguments.of(
            "populate-changed",
            BUILT,
            List.of(
                "patch",
                "--type=merge",
                "-p",
                "{\"spec\":{\"populate\":{\"createDirs\":[\"/tmp\"]}}}"),
            Validation.POPULATE_BUILD_TIME),
        Arguments.of(
            "populate-removed",
            BUILT,
            List.of(
                "patch", "--type=json", "-p", "[{\"op\":\"remove\",\"path\":\"/spec/populate\"}]"),
            Validation.POPULATE_BUILD_TIME),
        Arguments.of(
            "populate-added",
            "size: 64Mi",
            List.of(
                "patch",
                "--type=merge",
                "-p",
                "{\"spec\":{\"populate\":{\"createDirs\":[\"/tmp\"]}}}"),
            Validation.POPULATE_BUILD_TIME),
        Arguments.of(
            "populate-applied",
            BUILT,
            List.of("apply", BUILT.replace("[/proc]", "[/proc, /sys]")),
            Validation.POPULATE_BUILD_TIME),
        Arguments.of(
            "tailor-changed",
            BUILT,
            List.of(
                "patch", "--type=merge", "-p", "{\"spec\":{\"tailor\":{\"hostname\":\"vm2\"}}}"),
            Validation.TAILOR_BUILD_TIME),
        Arguments.of(
            "tailor-removed",
            BUILT,
            List.of("patch", "--type=merge", "-p", "{\"spec\":{\"tailor\":null}}"),
            Validation.TAILOR_BUILD_TIME),
        Arguments.of(
            "tailor-added",
            "size: 64Mi",
            List.of(
                "patch", "--type=merge", "-p", "{\"spec\":{\"tailor\":{\"hostname\":\"vm2\"}}}"),
            Validation.TAILOR_BUILD_TIME),
        Arguments.of(
            "tailor-applied",
            BUILT,
            List.of("apply", BUILT.replace("hostname: vm1", "hostname: vm2")),
            Validation.TAILOR_BUILD_TIME),
        Arguments.of(
            "preallocate-changed",
            BUILT,
            List.of("patch", "--type=merge", "-p", "{\"spec\":{\"preallocate\":false}}"),
            Validation.PREALLOCATE_BUILD_TIME),
        Arguments.of(
            // removed, the schema's default (false) comes back: a change from true
            "preallocate-removed",
            BUILT,
            List.of("apply", BUILT.replace("\npreallocate: true", "")),
            Validation.PREALLOCATE_BUILD_TIME));
  }

  @ParameterizedTest(name = "{0}")
  @MethodSource("buildTimeEdits")
  void aBuildTimeFieldEditIsRefusedByBothWithTheSameMessage(
      String name, String created, List<String> edit, String message) {
    String expected =
        "The VirtualDisk \"" + name + "\" is invalid: spec: Invalid value: \"object\": " + message;
    String specBefore = null;
    for (Kubectl kubectl : kubectls()) {
      Exec.Result create = apply(kubectl, name, created);
      assertThat(create.exit()).as(create.all()).isZero();
      String before = spec(kubectl, name);
      Exec.Result refused = edit(kubectl, name, edit);
      assertThat(refused.exit()).as(refused.all()).isNotZero();
      assertThat(refused.err()).as(refused.all()).contains(expected);
      assertThat(spec(kubectl, name)).as("the stored spec").isEqualTo(before);
      if (specBefore != null)
        assertThat(before).as("both stored the same spec").isEqualTo(specBefore);
      specBefore = before;
    }
  }

  @Test
  void growXenAndReclaimPolicyEditsAreAdmittedByBoth() {
    for (Kubectl kubectl : kubectls()) {
      assertThat(apply(kubectl, "editable", BUILT).exit()).isZero();
      Exec.Result patched =
          edit(
              kubectl,
              "editable",
              List.of(
                  "patch",
                  "--type=merge",
                  "-p",
                  "{\"spec\":{\"size\":\"128Mi\",\"xen\":{\"vdev\":\"xvdb\",\"access\":\"ro\"},\"reclaimPolicy\":\"Retain\"}}"));
      assertThat(patched.exit()).as(patched.all()).isZero();
      assertThat(
              kubectl
                  .run(
                      "get",
                      "vd",
                      "editable",
                      "-n",
                      NS,
                      "-o",
                      "jsonpath={.spec.size} {.spec.xen.vdev} {.spec.xen.access} {.spec.reclaimPolicy} {.metadata.generation}")
                  .out())
          .isEqualTo("128Mi xvdb ro Retain 2");
    }
  }

  private static List<Kubectl> kubectls() {
    Path embeddedKubeconfig = dir.resolve("embedded.kubeconfig");
    embeddedServer.writeKubeconfig(embeddedKubeconfig);
    return List.of(
        new Kubectl(kube.binaries().kubectl(), kube.kubeconfig(ADMIN)),
        new Kubectl(kube.binaries().kubectl(), embeddedKubeconfig));
  }

  private static Exec.Result edit(Kubectl kubectl, String name, List<String> edit) {
    if (edit.get(0).equals("apply")) {
      return apply(kubectl, name, edit.get(1));
    }
    List<String> args = new ArrayList<>(List.of(edit.get(0), "vd", name, "-n", NS));
    args.addAll(edit.subList(1, edit.size()));
    return kubectl.run(args.toArray(String[]::new));
  }

  private static Exec.Result apply(Kubectl kubectl, String name, String spec) {
    return kubectl.runWithInput(VirtualDisks.yaml(name, spec), "apply", "-n", NS, "-f", "-");
  }

  private static String spec(Kubectl kubectl, String name) {
    Exec.Result r = kubectl.run("get", "vd", name, "-n", NS, "-o", "jsonpath={.spec}");
    assertThat(r.exit()).as(r.all()).isZero();
    return r.out();
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
