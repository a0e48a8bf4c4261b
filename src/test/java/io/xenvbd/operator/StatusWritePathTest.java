package io.xenvbd.operator;

import static io.xenvbd.testing.RealKubeApiServer.ADMIN;
import static org.assertj.core.api.Assertions.assertThat;

import io.fabric8.kubernetes.api.model.NamespaceBuilder;
import io.fabric8.kubernetes.api.model.ObjectMetaBuilder;
import io.fabric8.kubernetes.client.KubernetesClient;
import io.fabric8.kubernetes.client.dsl.base.PatchContext;
import io.fabric8.kubernetes.client.dsl.base.PatchType;
import io.xenvbd.api.Conditions;
import io.xenvbd.api.VirtualDisk;
import io.xenvbd.api.VirtualDiskStatus;
import io.xenvbd.kube.EmbeddedApiServer;
import io.xenvbd.testing.ProjectCrds;
import io.xenvbd.testing.RealKubeApiServer;
import io.xenvbd.testing.RequiresKubeApiServer;
import java.time.Clock;
import java.time.Instant;
import java.time.ZoneOffset;
import java.util.List;
import java.util.Map;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.ValueSource;

/**
 * The operator's one status write path (StatusWriter: a JSON Patch of the whole status under the
 * field manager xenvbd-operator) on both API servers it runs on, local mode's embedded API and the
 * real kube-apiserver: what it writes is exactly what the disk then carries, whatever wrote the
 * status before. The last test is the real server's verdict on the alternative (docs/operator.md,
 * "Status write path").
 */
@RequiresKubeApiServer
class StatusWritePathTest {
  static final String NS = "status-path";
  static final Clock CLOCK = Clock.fixed(Instant.parse("2026-12-02T04:00:00Z"), ZoneOffset.UTC);
  static EmbeddedApiServer embeddedServer;
  static Map<String, KubernetesClient> servers;

  @BeforeAll
  static void start(RealKubeApiServer kube) {
    KubernetesClient real = kube.client(ADMIN);
    ProjectCrds.install(real);
    embeddedServer = EmbeddedApiServer.startWithProjectCrds(0);
    servers = Map.of("real", real, "embedded", embeddedServer.client());
    for (KubernetesClient c : servers.values()) {
      c.namespaces()
          .resource(new NamespaceBuilder().withNewMetadata().withName(NS).endMetadata().build())
          .serverSideApply();
    }
  }

  @AfterAll
  static void stop() {
    if (servers != null) servers.values().forEach(KubernetesClient::close);
    if (embeddedServer != null) embeddedServer.close();
  }

  static VirtualDiskStatus building(long generation) {
    var conditions =
        Conditions.set(
            Conditions.set(
                List.of(),
                Conditions.SCHEDULED,
                Conditions.TRUE,
                "Scheduled",
                "placed on node-a",
                generation,
                CLOCK),
            Conditions.READY,
            Conditions.FALSE,
            "Provisioning",
            "building: Populate 40%",
            generation,
            CLOCK);
    return new VirtualDiskStatus(
        VirtualDiskStatus.Phase.Provisioning,
        generation,
        "node-a",
        null,
        null,
        null,
        null,
        null,
        "ext4",
        new VirtualDiskStatus.Progress("Populate", 40, 4L << 20, 10L << 20),
        null,
        null,
        conditions);
  }

  /** Ready, with no progress and one condition fewer than {@link #building}. */
  static VirtualDiskStatus ready(long generation) {
    return new VirtualDiskStatus(
        VirtualDiskStatus.Phase.Ready,
        generation,
        "node-a",
        "/var/lib/xen/images/" + NS + "/d.img",
        64L << 20,
        1L << 20,
        "1Mi",
        "7d3c6f0e-5b7a-4c58-9a43-1f1f4b8c2a10",
        "ext4",
        null,
        null,
        null,
        Conditions.set(
            List.of(),
            Conditions.READY,
            Conditions.TRUE,
            "Provisioned",
            "the image is ready",
            generation,
            CLOCK));
  }

  static VirtualDisk create(KubernetesClient client, String name) {
    client.resources(VirtualDisk.class).inNamespace(NS).withName(name).delete();
    return client.resource(Fixtures.disk(NS, name, "64Mi")).create();
  }

  static VirtualDisk read(KubernetesClient client, String name) {
    return client.resources(VirtualDisk.class).inNamespace(NS).withName(name).get();
  }

  /** A status applied by another field manager, as a person or another release might. */
  static void applyStatus(
      KubernetesClient client, String name, String manager, VirtualDiskStatus s) {
    VirtualDisk apply = new VirtualDisk();
    apply.setMetadata(new ObjectMetaBuilder().withName(name).withNamespace(NS).build());
    apply.setStatus(s);
    client
        .resource(apply)
        .subresource("status")
        .patch(
            new PatchContext.Builder()
                .withForce(true)
                .withFieldManager(manager)
                .withPatchType(PatchType.SERVER_SIDE_APPLY)
                .build());
  }

  @ParameterizedTest(name = "{0}")
  @ValueSource(strings = {"embedded", "real"})
  void eachWriteLeavesExactlyTheStatusWrittenSoDroppedFieldsAndConditionsGo(String server) {
    KubernetesClient client = servers.get(server);
    VirtualDisk disk = create(client, "replaced");
    long generation = disk.getMetadata().getGeneration();
    StatusWriter writer = new StatusWriter(client);

    writer.write(disk, building(generation));
    assertThat(read(client, "replaced").getStatus()).isEqualTo(building(generation));
    writer.write(read(client, "replaced"), ready(generation));

    VirtualDiskStatus stored = read(client, "replaced").getStatus();
    assertThat(stored).isEqualTo(ready(generation));
    assertThat(stored.progress()).as("the build's progress is gone").isNull();
    assertThat(stored.conditions())
        .as("the dropped Scheduled condition is gone")
        .extracting(c -> c.getType())
        .containsExactly(Conditions.READY);
  }

  /**
   * A status written earlier by server-side apply, by an operator of an earlier release that ran
   * with --use-ssa-for-status=true (manager xenvbd-operator) and by a person (manager kubectl): the
   * operator's next write still leaves exactly its own status.
   */
  @ParameterizedTest(name = "{0}")
  @ValueSource(strings = {"embedded", "real"})
  void aStatusAnyoneAppliedBeforeIsReplacedWhole(String server) {
    KubernetesClient client = servers.get(server);
    VirtualDisk disk = create(client, "taken-over");
    long generation = disk.getMetadata().getGeneration();
    applyStatus(client, "taken-over", XenvbdOperator.FIELD_MANAGER, building(generation));
    applyStatus(client, "taken-over", "kubectl", building(generation));

    new StatusWriter(client).write(read(client, "taken-over"), ready(generation));

    VirtualDisk stored = read(client, "taken-over");
    assertThat(stored.getStatus()).isEqualTo(ready(generation));
  }

  /**
   * Why not server-side apply, as the real server answers it: a field that an earlier writer set to
   * the same value stays owned by that writer too, so an apply that drops it leaves it in place. A
   * disk written by an operator of an earlier release (JSON patch, its default) would keep its
   * build's progress and its old conditions after the upgrade.
   */
  @Test
  void onTheRealServerAnApplyCannotDropAFieldAnEarlierWriterShares() {
    KubernetesClient client = servers.get("real");
    VirtualDisk disk = create(client, "shared");
    long generation = disk.getMetadata().getGeneration();
    VirtualDiskStatus building = building(generation);
    client
        .resources(VirtualDisk.class)
        .inNamespace(NS)
        .withName("shared")
        .subresource("status")
        .patch(
            new PatchContext.Builder()
                .withPatchType(PatchType.JSON)
                .withFieldManager("xenvbd-operator-0.1")
                .build(),
            "[{\"op\":\"add\",\"path\":\"/status\",\"value\":"
                + client.getKubernetesSerialization().asJson(building)
                + "}]");
    applyStatus(client, "shared", XenvbdOperator.FIELD_MANAGER, building);
    applyStatus(client, "shared", XenvbdOperator.FIELD_MANAGER, ready(generation));

    VirtualDiskStatus stored = read(client, "shared").getStatus();
    assertThat(stored.phase()).isEqualTo(VirtualDiskStatus.Phase.Ready);
    assertThat(stored.progress())
        .as("kept: still owned by the earlier JSON patch's manager")
        .isEqualTo(building.progress());
  }
}
