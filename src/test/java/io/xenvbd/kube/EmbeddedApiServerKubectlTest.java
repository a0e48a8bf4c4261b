package io.xenvbd.kube;

import static org.assertj.core.api.Assertions.assertThat;
import static org.awaitility.Awaitility.await;

import io.fabric8.kubernetes.api.model.EventBuilder;
import io.fabric8.kubernetes.api.model.GenericKubernetesResource;
import io.fabric8.kubernetes.client.KubernetesClient;
import io.fabric8.kubernetes.client.dsl.base.PatchContext;
import io.fabric8.kubernetes.client.dsl.base.PatchType;
import io.fabric8.kubernetes.client.dsl.base.ResourceDefinitionContext;
import io.xenvbd.testing.Exec;
import io.xenvbd.testing.Kubectl;
import io.xenvbd.testing.Manifests;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.List;
import java.util.Map;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** The real kubectl against the embedded API server: what a user types in local mode. */
class EmbeddedApiServerKubectlTest {
  static final ResourceDefinitionContext VD =
      new ResourceDefinitionContext.Builder()
          .withGroup("xenvbd.io")
          .withVersion("v1alpha1")
          .withPlural("virtualdisks")
          .withKind("VirtualDisk")
          .withNamespaced(true)
          .build();

  @TempDir static Path dir;
  static EmbeddedApiServer server;
  static KubernetesClient client;
  static Kubectl kubectl;

  @BeforeAll
  static void start() {
    server = EmbeddedApiServer.startWithProjectCrds(0);
    server.writeKubeconfig(dir.resolve("kubeconfig"));
    kubectl = new Kubectl(dir.resolve("kubeconfig"));
    client = server.client();
  }

  @AfterAll
  static void stop() {
    client.close();
    server.close();
  }

  static void setReady(String name, String status) {
    GenericKubernetesResource vd = client.genericKubernetesResources(VD).withName(name).get();
    vd.setAdditionalProperty(
        "status",
        Map.of(
            "phase",
            "Ready",
            "nodeName",
            "dom0-a",
            "allocated",
            "12Mi",
            "conditions",
            List.of(
                Map.of(
                    "type",
                    "Ready",
                    "status",
                    status,
                    "reason",
                    "Provisioned",
                    "message",
                    "the image is ready",
                    "lastTransitionTime",
                    "2026-01-01T00:00:00Z"))));
    client.genericKubernetesResources(VD).resource(vd).updateStatus();
  }

  @Test
  void applyThenGetShowsThePrinterColumnsAndDescribeAndYamlShowTheObject() {
    Exec.Result apply =
        kubectl.runWithInput(Manifests.vm1disk("cols", "2Gi", "ext3"), "apply", "-f", "-");
    assertThat(apply.exit()).as(apply.all()).isZero();
    assertThat(apply.out()).contains("virtualdisk.xenvbd.io/cols created");
    setReady("cols", "True");

    Exec.Result get = kubectl.run("get", "vd", "cols");
    assertThat(get.exit()).as(get.all()).isZero();
    String header = get.out().lines().findFirst().orElseThrow();
    assertThat(header).contains("NAME", "AGE", "FS", "SIZE", "ALLOCATED", "READY", "NODE", "PHASE");
    // Columns in the model's order: Node, Size, Allocated, FS, Phase, Ready, Age.
    assertThat(header)
        .matches("NAME\\s+NODE\\s+SIZE\\s+ALLOCATED\\s+FS\\s+PHASE\\s+READY\\s+AGE\\s*");
    assertThat(get.out())
        .containsPattern("cols\\s+dom0-a\\s+2Gi\\s+12Mi\\s+ext3\\s+Ready\\s+True\\s+\\d+s");

    GenericKubernetesResource vd = client.genericKubernetesResources(VD).withName("cols").get();
    client
        .v1()
        .events()
        .resource(
            new EventBuilder()
                .withNewMetadata()
                .withName("cols.1")
                .endMetadata()
                .withType("Normal")
                .withReason("Provisioned")
                .withMessage("image built")
                .withNewInvolvedObject()
                .withKind("VirtualDisk")
                .withApiVersion("xenvbd.io/v1alpha1")
                .withName("cols")
                .withNamespace("default")
                .withUid(vd.getMetadata().getUid())
                .endInvolvedObject()
                .withLastTimestamp(vd.getMetadata().getCreationTimestamp())
                .build())
        .create();
    Exec.Result describe = kubectl.run("describe", "virtualdisk", "cols");
    assertThat(describe.exit()).as(describe.all()).isZero();
    assertThat(describe.out()).contains("Name:", "cols", "Size:", "2Gi", "Ready");
    assertThat(describe.out()).containsPattern("Normal\\s+Provisioned\\s+.*image built");
    assertThat(kubectl.run("get", "events").out())
        .containsPattern("Normal\\s+Provisioned\\s+cols\\s+image built");

    Exec.Result yaml = kubectl.run("get", "vd", "cols", "-o", "yaml");
    assertThat(yaml.out())
        .contains(
            "vdev: sda1",
            "reclaimPolicy: Delete",
            "method: Auto",
            "phase: Ready",
            "generation: 1",
            "uid:");

    Exec.Result openapiV2 = kubectl.run("get", "--raw", "/openapi/v2");
    assertThat(openapiV2.err()).contains("NotFound");

    Exec.Result crd = kubectl.run("get", "crd");
    assertThat(crd.out()).contains("virtualdisks.xenvbd.io", "dom0nodes.xenvbd.io");
  }

  @Test
  void everyExampleIsAcceptedByAServerSideDryRun() throws Exception {
    try (var files = Files.list(Path.of("examples"))) {
      for (Path f : files.filter(p -> p.toString().endsWith(".yaml")).toList()) {
        Exec.Result r = kubectl.run("apply", "--dry-run=server", "-f", f.toString());
        assertThat(r.exit()).as(f + ": " + r.all()).isZero();
        assertThat(r.out()).contains("(server dry run)");
      }
    }
  }

  @Test
  void clusterScopedDom0NodesShowTheirColumns() {
    Exec.Result create =
        kubectl.runWithInput(
            """
        apiVersion: xenvbd.io/v1alpha1
        kind: Dom0Node
        metadata:
          name: dom0-a
        spec: {}
        """,
            "apply",
            "-f",
            "-");
    assertThat(create.exit()).as(create.all()).isZero();
    client
        .genericKubernetesResources("xenvbd.io/v1alpha1", "Dom0Node")
        .withName("dom0-a")
        .subresource("status")
        .patch(
            PatchContext.of(PatchType.JSON_MERGE),
            "{\"status\":{\"disks\":2,\"loopDevices\":{\"summary\":\"3/8\"},"
                + "\"conditions\":[{\"type\":\"Ready\",\"status\":\"True\"}]}}");
    Exec.Result get = kubectl.run("get", "dom0nodes");
    assertThat(get.out()).containsPattern("dom0-a\\s+.*3/8").contains("LOOP", "DISKS", "READY");
    assertThat(
            kubectl
                .run("get", "dom0node", "dom0-a", "-o", "jsonpath={.spec.overcommitRatio}")
                .out())
        .isEqualTo("1");
  }

  @Test
  void reApplyWithAGrownSizeBumpsGenerationAndKeepsStatus() {
    assertThat(
            kubectl
                .runWithInput(Manifests.vm1disk("grow", "1Gi", "ext4"), "apply", "-f", "-")
                .exit())
        .isZero();
    setReady("grow", "True");
    Exec.Result again =
        kubectl.runWithInput(Manifests.vm1disk("grow", "3Gi", "ext4"), "apply", "-f", "-");
    assertThat(again.exit()).as(again.all()).isZero();
    assertThat(again.out()).contains("configured");
    Exec.Result out =
        kubectl.run(
            "get",
            "vd",
            "grow",
            "-o",
            "jsonpath={.spec.size} {.metadata.generation} {.status.phase}");
    assertThat(out.out()).isEqualTo("3Gi 2 Ready");
  }

  @Test
  void patchOfTheStatusSubresourceChangesOnlyStatusAndNotGeneration() {
    assertThat(
            kubectl
                .runWithInput(Manifests.vm1disk("stat", "1Gi", "ext4"), "apply", "-f", "-")
                .exit())
        .isZero();
    Exec.Result patch =
        kubectl.run(
            "patch",
            "vd",
            "stat",
            "--subresource=status",
            "--type=merge",
            "-p",
            "{\"status\":{\"phase\":\"Provisioning\"},\"spec\":{\"size\":\"9Gi\"}}");
    assertThat(patch.exit()).as(patch.all()).isZero();
    Exec.Result out =
        kubectl.run(
            "get",
            "vd",
            "stat",
            "-o",
            "jsonpath={.status.phase} {.spec.size} {.metadata.generation}");
    assertThat(out.out()).isEqualTo("Provisioning 1Gi 1");
    // A main-resource patch does not touch status.
    kubectl.run("patch", "vd", "stat", "--type=merge", "-p", "{\"status\":{\"phase\":\"Failed\"}}");
    assertThat(kubectl.run("get", "vd", "stat", "-o", "jsonpath={.status.phase}").out())
        .isEqualTo("Provisioning");
    // Metadata changes do not bump generation either: only spec does.
    assertThat(kubectl.run("label", "vd", "stat", "tier=gold").exit()).isZero();
    assertThat(kubectl.run("get", "vd", "stat", "-o", "jsonpath={.metadata.generation}").out())
        .isEqualTo("1");
  }

  @Test
  void waitForReadyEndsWhenTheClientSetsTheCondition() throws Exception {
    assertThat(
            kubectl
                .runWithInput(Manifests.vm1disk("waiter", "1Gi", "ext4"), "apply", "-f", "-")
                .exit())
        .isZero();
    setReady("waiter", "False");
    Path out = dir.resolve("wait.out");
    Process wait =
        kubectl.start(out, "wait", "--for=condition=Ready", "vd/waiter", "--timeout=30s");
    Thread.sleep(700);
    assertThat(wait.isAlive()).as("wait must not end while Ready is False").isTrue();
    setReady("waiter", "True");
    assertThat(wait.waitFor(20, TimeUnit.SECONDS)).isTrue();
    assertThat(wait.exitValue()).as(Files.readString(out)).isZero();
    assertThat(Files.readString(out)).contains("virtualdisk.xenvbd.io/waiter condition met");
  }

  @Test
  void waitEndsAtOnceWhenTheConditionIsAlreadyMet() {
    assertThat(
            kubectl
                .runWithInput(Manifests.vm1disk("already", "1Gi", "ext4"), "apply", "-f", "-")
                .exit())
        .isZero();
    setReady("already", "True");
    Exec.Result wait = kubectl.run("wait", "--for=condition=Ready", "vd/already", "--timeout=10s");
    assertThat(wait.exit()).as(wait.all()).isZero();
  }

  @Test
  void getWatchSeesAChangeAndDeleteRemovesTheObject() throws Exception {
    assertThat(
            kubectl
                .runWithInput(Manifests.vm1disk("watched", "1Gi", "ext4"), "apply", "-f", "-")
                .exit())
        .isZero();
    Path out = dir.resolve("watch.out");
    Process watch = kubectl.start(out, "get", "vd", "watched", "-w");
    try {
      await().atMost(Duration.ofSeconds(10)).until(() -> Files.readString(out).contains("watched"));
      setReady("watched", "True");
      await().atMost(Duration.ofSeconds(10)).until(() -> Files.readString(out).contains("Ready"));
      assertThat(Files.readString(out).lines().filter(l -> l.startsWith("watched")).count())
          .isEqualTo(2);
    } finally {
      watch.destroy();
      watch.waitFor();
    }
    await().atMost(Duration.ofSeconds(5)).until(() -> server.openWatches() == 0);
    Exec.Result delete = kubectl.run("delete", "vd", "watched");
    assertThat(delete.exit()).as(delete.all()).isZero();
    assertThat(kubectl.run("get", "vd", "watched").err()).contains("NotFound");
  }

  @Test
  void serverSideApplyCreatesAndThenUpdates() {
    Exec.Result create =
        kubectl.runWithInput(
            Manifests.vm1disk("ssa", "1Gi", "ext4"), "apply", "--server-side", "-f", "-");
    assertThat(create.exit()).as(create.all()).isZero();
    assertThat(create.out()).contains("serverside-applied");
    Exec.Result update =
        kubectl.runWithInput(
            Manifests.vm1disk("ssa", "2Gi", "ext4"), "apply", "--server-side", "-f", "-");
    assertThat(update.exit()).as(update.all()).isZero();
    assertThat(kubectl.run("get", "vd", "ssa", "-o", "jsonpath={.spec.size}").out())
        .isEqualTo("2Gi");
  }

  @Test
  void serverSideApplyRemovesWhatTheManagerDroppedButKeepsOtherManagersFields() {
    // a field that may change on a built disk (spec.tailor is build-time only: its removal is
    // refused)
    String withBackend =
        Manifests.vm1disk("owned", "1Gi", "ext4")
            .replace("    access: rw\n", "    access: rw\n    backendType: phy\n");
    assertThat(kubectl.runWithInput(withBackend, "apply", "--server-side", "-f", "-").exit())
        .isZero();
    assertThat(kubectl.run("label", "vd", "owned", "team=storage").exit()).isZero();
    String withoutBackend = withBackend.replace("    backendType: phy\n", "");
    Exec.Result again = kubectl.runWithInput(withoutBackend, "apply", "--server-side", "-f", "-");
    assertThat(again.exit()).as(again.all()).isZero();
    Exec.Result out =
        kubectl.run(
            "get",
            "vd",
            "owned",
            "-o",
            "jsonpath={.spec.xen.backendType}|{.metadata.labels.team}|{.spec.xen.vdev}");
    assertThat(out.out()).isEqualTo("|storage|sda1");
    assertThat(kubectl.run("get", "vd", "owned", "--show-managed-fields", "-o", "yaml").out())
        .contains("manager: kubectl", "operation: Apply", "f:size: {}");
  }

  @Test
  void badInputIsRejectedAtApplyWithTheFieldNamed() {
    Exec.Result size =
        kubectl.runWithInput(Manifests.vm1disk("badsize", "2GB", "ext4"), "apply", "-f", "-");
    assertThat(size.exit()).isNotZero();
    // kubectl rewrites a 422 Invalid from its causes as "The <Kind> "<name>" is invalid: <field>:
    // ...".
    assertThat(size.err())
        .contains("The VirtualDisk \"badsize\" is invalid: spec.size: Invalid value: \"2GB\"");
    Exec.Result fs =
        kubectl.runWithInput(Manifests.vm1disk("badfs", "1Gi", "btrfs"), "apply", "-f", "-");
    assertThat(fs.err()).contains("spec.filesystem: Unsupported value: \"btrfs\"");
    Exec.Result unknown =
        kubectl.runWithInput(
            Manifests.vm1disk("unknown", "1Gi", "ext4")
                .replace("  size:", "  colour: red\n  size:"),
            "apply",
            "-f",
            "-");
    assertThat(unknown.exit()).isNotZero();
    assertThat(unknown.err()).contains("unknown field \"spec.colour\"");
    assertThat(kubectl.run("get", "vd", "badsize", "badfs", "unknown").err()).contains("NotFound");
    Exec.Result dryRun =
        kubectl.runWithInput(
            Manifests.vm1disk("dry", "1Gi", "ext4"), "apply", "--dry-run=server", "-f", "-");
    assertThat(dryRun.out()).contains("created (server dry run)");
    assertThat(kubectl.run("get", "vd", "dry").err()).contains("NotFound");
  }

  @Test
  void celRulesRejectShrinkingAndFilesystemChangeButAcceptGrowth() {
    assertThat(
            kubectl
                .runWithInput(Manifests.vm1disk("cel", "2Gi", "ext4"), "apply", "-f", "-")
                .exit())
        .isZero();
    Exec.Result shrink =
        kubectl.runWithInput(Manifests.vm1disk("cel", "1Gi", "ext4"), "apply", "-f", "-");
    assertThat(shrink.exit()).isNotZero();
    assertThat(shrink.err())
        .contains("spec: Invalid value: \"object\": spec.size may grow but never shrink");
    Exec.Result fs =
        kubectl.runWithInput(Manifests.vm1disk("cel", "2Gi", "xfs"), "apply", "-f", "-");
    assertThat(fs.err()).contains("spec.filesystem is immutable");
    Exec.Result grow =
        kubectl.runWithInput(Manifests.vm1disk("cel", "2049Mi", "ext4"), "apply", "-f", "-");
    assertThat(grow.exit()).as(grow.all()).isZero();
  }

  @Test
  void aStaleUpdateIsAConflict() throws Exception {
    assertThat(
            kubectl
                .runWithInput(Manifests.vm1disk("stale", "1Gi", "ext4"), "apply", "-f", "-")
                .exit())
        .isZero();
    String old = kubectl.run("get", "vd", "stale", "-o", "json").out();
    kubectl.run("label", "vd", "stale", "touched=yes");
    Path file = dir.resolve("stale.json");
    Files.writeString(file, old.replace("\"1Gi\"", "\"5Gi\""));
    Exec.Result replace = kubectl.run("replace", "-f", file.toString());
    assertThat(replace.exit()).isNotZero();
    assertThat(replace.err()).contains("Conflict", "the object has been modified");
  }

  @Test
  void explainDescribesTheCrdFieldsFromTheServedOpenApiSchema() {
    Exec.Result explain = kubectl.run("explain", "vd.spec.populate");
    assertThat(explain.exit()).as(explain.all()).isZero();
    assertThat(explain.out())
        .contains(
            "KIND:       VirtualDisk",
            "FIELD: populate <Object>",
            "What to copy into the new filesystem",
            "cloneFrom\t<Object>",
            "hostPaths\t<[]Object>");
    Exec.Result node = kubectl.run("explain", "dom0node.spec.unschedulable");
    assertThat(node.exit()).as(node.all()).isZero();
    assertThat(node.out()).contains("KIND:       Dom0Node", "FIELD: unschedulable <boolean>");
  }
}
