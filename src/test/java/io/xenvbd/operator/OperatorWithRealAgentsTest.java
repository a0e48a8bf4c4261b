package io.xenvbd.operator;

import static io.xenvbd.operator.Fixtures.MI;
import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;
import static org.awaitility.Awaitility.await;

import io.xenvbd.api.Conditions;
import io.xenvbd.api.Dom0Node;
import io.xenvbd.api.Dom0NodeSpec;
import io.xenvbd.api.Populate;
import io.xenvbd.api.Reasons;
import io.xenvbd.api.VirtualDisk;
import io.xenvbd.api.VirtualDiskSpec;
import io.xenvbd.api.VirtualDiskStatus;
import io.xenvbd.client.HttpAgentClient;
import io.xenvbd.protocol.AgentClient;
import io.xenvbd.protocol.AgentException;
import io.xenvbd.protocol.ErrorCodes;
import io.xenvbd.testing.Exec;
import io.xenvbd.testing.RequiresRoot;
import java.io.IOException;
import java.io.OutputStream;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.List;
import java.util.Random;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * The operator with three real node agents in-process over real HTTPS, each with its own images
 * root, against the fabric8 mock API server in CRUD mode: real images, real mkfs, real loop
 * devices.
 */
@RequiresRoot
class OperatorWithRealAgentsTest {
  static MockApi api;
  OperatorHarness h;
  RealNodes nodes;
  @TempDir Path dir;

  @BeforeAll
  static void startApi() {
    api = MockApi.start();
  }

  @AfterAll
  static void stopApi() {
    api.close();
  }

  @BeforeEach
  void start() {
    h = new OperatorHarness(api);
    nodes = new RealNodes(dir, api.client);
    for (String n : List.of("node-a", "node-b", "node-c")) nodes.start(n);
    await()
        .atMost(Duration.ofSeconds(10))
        .until(
            () ->
                api.client.resources(Dom0Node.class).list().getItems().stream()
                        .filter(n -> n.getStatus() != null && n.getStatus().storage() != null)
                        .count()
                    == 3);
    h.start(nodes.clients());
  }

  @AfterEach
  void stop() {
    h.stopOperator();
    nodes.close();
    h.close();
  }

  @Test
  void createdDiskIsReadyWithEveryStatusFieldAndTheImageOnTheChosenNode() throws Exception {
    h.create(Fixtures.disk("ns1", "vm1disk", "64Mi"));
    VirtualDisk d = h.awaitReady("ns1", "vm1disk");
    VirtualDiskStatus s = d.getStatus();
    Path image = nodes.root(s.nodeName()).resolve("ns1/vm1disk.img");
    assertThat(s.path()).isEqualTo(image.toString());
    assertThat(Files.size(image)).isEqualTo(64 * MI).isEqualTo(s.capacityBytes());
    assertThat(s.allocatedBytes()).isPositive().isLessThan(64 * MI);
    assertThat(s.allocated()).isNotBlank();
    assertThat(s.filesystemUUID())
        .isEqualTo(Exec.ok("blkid", "-o", "value", "-s", "UUID", image.toString()).strip());
    assertThat(s.xen().disk()).isEqualTo("format=raw, vdev=xvda1, access=rw, target=" + image);
    assertThat(s.xen().legacyDisk()).startsWith("file:" + image + ",");
    assertThat(s.loopDevices().summary()).isNotBlank();
    assertThat(s.phase()).isEqualTo(VirtualDiskStatus.Phase.Ready);
    assertThat(s.observedGeneration()).isEqualTo(1L);
    assertThat(s.conditions())
        .extracting(c -> c.getType() + "=" + c.getStatus())
        .contains("Scheduled=True", "Provisioned=True", "Ready=True");
    for (String n : List.of("node-a", "node-b", "node-c")) {
      assertThat(nodes.images(n))
          .isEqualTo(n.equals(s.nodeName()) ? List.of("ns1/vm1disk.img") : List.of());
    }
    await()
        .untilAsserted(
            () ->
                assertThat(h.eventReasons("ns1", "vm1disk"))
                    .contains("Scheduled", "ProvisioningStarted", "Provisioned"));
  }

  @Test
  void placementPrefersTheLeastCommittedSkipsCordonedAndWaitsForRoom() {
    // node-a gets a pinned disk: it becomes the most committed once its heartbeat reports it
    h.create(
        Fixtures.disk(
            "ns1",
            "pinned",
            Fixtures.spec("node-a", "256Mi", VirtualDiskSpec.Filesystem.none, null, null)));
    h.awaitReady("ns1", "pinned");
    cordon("node-b", true, 1.0);
    h.create(Fixtures.disk("ns1", "free", "16Mi"));
    assertThat(h.awaitReady("ns1", "free").getStatus().nodeName()).isEqualTo("node-c");

    // no room: node-c cordoned too, node-a bound so that the pinned disk leaves less than the new
    // one needs
    cordon("node-c", true, 1.0);
    long capacity =
        api.client
            .resources(Dom0Node.class)
            .withName("node-a")
            .get()
            .getStatus()
            .storage()
            .capacityBytes();
    double ratio =
        (256 * MI + 200 * MI) / (double) capacity; // room for 200Mi beside the pinned 256Mi
    cordon("node-a", false, ratio);
    h.create(
        Fixtures.disk(
            "ns1",
            "big",
            Fixtures.spec(null, "300Mi", VirtualDiskSpec.Filesystem.none, null, null)));
    VirtualDisk pending =
        h.awaitCondition(
            "ns1", "big", Conditions.SCHEDULED, Conditions.FALSE, Reasons.INSUFFICIENT_STORAGE);
    assertThat(pending.getStatus().phase()).isEqualTo(VirtualDiskStatus.Phase.Pending);
    assertThat(h.condition(pending, Conditions.SCHEDULED).getMessage())
        .contains("node-a: ", "left to promise", "node-b: cordoned", "node-c: cordoned");

    api.client.resources(VirtualDisk.class).inNamespace("ns1").withName("pinned").delete();
    assertThat(h.awaitReady("ns1", "big").getStatus().nodeName()).isEqualTo("node-a");
    assertThat(nodes.images("node-a")).containsExactly("ns1/big.img");
  }

  @Test
  void agentStoppedMidBuildTurnsReadyUnknownAndItsReturnFinishesWithOneImage() throws Exception {
    writeSource(96);
    h.create(Fixtures.disk("ns1", "d", Fixtures.spec("node-b", "256Mi", null, populated(), null)));
    h.awaitCondition("ns1", "d", Conditions.PROVISIONED, Conditions.FALSE, Reasons.PROVISIONING);
    nodes.stop("node-b"); // interrupts the build; the agent's engine removes its temporary files
    VirtualDisk d =
        h.awaitCondition(
            "ns1", "d", Conditions.READY, Conditions.UNKNOWN, Reasons.NODE_UNREACHABLE);
    assertThat(h.condition(d, Conditions.READY).getMessage()).contains("node-b");

    nodes.start("node-b");
    d = h.awaitReady("ns1", "d");
    assertThat(nodes.images("node-b")).containsExactly("ns1/d.img");
    assertThat(d.getStatus().capacityBytes()).isEqualTo(256 * MI);
  }

  @Test
  void operatorRestartedMidBuildConvergesWithoutASecondBuild() throws Exception {
    writeSource(96);
    h.create(Fixtures.disk("ns1", "d", Fixtures.spec("node-c", "256Mi", null, populated(), null)));
    h.awaitCondition("ns1", "d", Conditions.PROVISIONED, Conditions.FALSE, Reasons.PROVISIONING);
    h.stopOperator();
    h.start(nodes.clients());
    h.awaitReady("ns1", "d");
    assertThat(nodes.builds("node-c")).isEqualTo(1);
    assertThat(nodes.images("node-c")).containsExactly("ns1/d.img");
  }

  @Test
  void growingGrowsImageAndFilesystemAndShrinkingIsRefused() throws Exception {
    h.create(Fixtures.disk("ns1", "d", Fixtures.spec("node-a", "64Mi", null, null, null)));
    Path image = Path.of(h.awaitReady("ns1", "d").getStatus().path());
    edit("d", "128Mi");
    await()
        .atMost(Duration.ofSeconds(20))
        .until(
            () -> {
              VirtualDisk now = h.get("ns1", "d");
              return Long.valueOf(128 * MI).equals(now.getStatus().capacityBytes())
                  && Conditions.isTrue(now.getStatus().conditions(), Conditions.READY);
            });
    assertThat(Files.size(image)).isEqualTo(128 * MI);
    assertThat(ext4Bytes(image)).isEqualTo(128 * MI);
    await().untilAsserted(() -> assertThat(h.eventReasons("ns1", "d")).contains(Reasons.RESIZED));
    // the grow starts with its own event; the build's start event was the only one
    assertThat(h.events("ns1", "d"))
        .filteredOn(e -> e.startsWith("Normal " + Reasons.RESIZE_STARTED + ":"))
        .singleElement()
        .asString()
        .contains("agent on node-a: growing the image from 64Mi to 128Mi");
    assertThat(h.eventReasons("ns1", "d"))
        .filteredOn(Reasons.PROVISIONING_STARTED::equals)
        .hasSize(1);
    assertThat(h.get("ns1", "d").getStatus().observedGeneration()).isEqualTo(2L);

    edit("d", "32Mi");
    VirtualDisk refused =
        h.awaitCondition("ns1", "d", Conditions.READY, Conditions.FALSE, Reasons.INVALID_SPEC);
    assertThat(h.condition(refused, Conditions.READY).getMessage()).contains("never shrink");
    assertThat(Files.size(image)).isEqualTo(128 * MI);
    assertThat(ext4Bytes(image)).isEqualTo(128 * MI);
  }

  @Test
  void growingAnAttachedImageWaitsForTheGuestAndTheDiskStaysReadyAtItsSize() throws Exception {
    h.create(Fixtures.disk("ns1", "d", Fixtures.spec("node-a", "16Mi", null, null, null)));
    Path image = Path.of(h.awaitReady("ns1", "d").getStatus().path());
    String loop = Exec.ok("losetup", "-f", "--show", image.toString()).strip();
    try {
      edit("d", "32Mi");
      VirtualDisk d =
          h.awaitCondition("ns1", "d", Conditions.RESIZED, Conditions.FALSE, Reasons.IMAGE_IN_USE);
      // a running guest's disk is as usable as before the edit: not Failed, still Ready
      assertThat(d.getStatus().phase()).isEqualTo(VirtualDiskStatus.Phase.Ready);
      assertThat(h.condition(d, Conditions.READY).getStatus()).isEqualTo(Conditions.TRUE);
      // ... at the generation it realises: the grow (generation 2) is not done
      assertThat(h.condition(d, Conditions.READY).getObservedGeneration()).isEqualTo(1L);
      assertThat(d.getStatus().observedGeneration()).isEqualTo(1L);
      assertThat(h.condition(d, Conditions.RESIZED).getMessage()).contains(loop);
      assertThat(d.getStatus().capacityBytes()).isEqualTo(16 * MI);
      assertThat(Files.size(image)).as("the file was not grown").isEqualTo(16 * MI);
    } finally {
      Exec.ok("losetup", "-d", loop);
    }
    // the guest stopped: the grow goes ahead by itself
    await()
        .atMost(Duration.ofSeconds(60))
        .until(
            () ->
                Long.valueOf(32 * MI).equals(h.get("ns1", "d").getStatus().capacityBytes())
                    && Conditions.isTrue(
                        h.get("ns1", "d").getStatus().conditions(), Conditions.RESIZED));
    assertThat(ext4Bytes(image)).isEqualTo(32 * MI);
    assertThat(h.get("ns1", "d").getStatus().observedGeneration()).isEqualTo(2L);
  }

  @Test
  void placementCannotBeSteppedAroundByNodeNameOrByAGrow() throws Exception {
    cordon("node-b", true, 1.0);
    h.create(Fixtures.disk("ns1", "pinned", Fixtures.spec("node-b", "16Mi", null, null, null)));
    VirtualDisk refused =
        h.awaitCondition(
            "ns1", "pinned", Conditions.SCHEDULED, Conditions.FALSE, Reasons.NODE_CORDONED);
    assertThat(refused.getStatus().phase()).isEqualTo(VirtualDiskStatus.Phase.Pending);

    h.create(Fixtures.disk("ns1", "d", Fixtures.spec("node-a", "16Mi", null, null, null)));
    Path image = Path.of(h.awaitReady("ns1", "d").getStatus().path());
    edit("d", "1Pi"); // far beyond any images root here
    VirtualDisk d =
        h.awaitCondition(
            "ns1", "d", Conditions.RESIZED, Conditions.FALSE, Reasons.INSUFFICIENT_STORAGE);
    assertThat(h.condition(d, Conditions.READY).getStatus()).isEqualTo(Conditions.TRUE);
    // usable at 16Mi, but generation 2 (1Pi) is not realised: nothing says it is
    assertThat(d.getMetadata().getGeneration()).isEqualTo(2L);
    assertThat(h.condition(d, Conditions.READY).getObservedGeneration()).isEqualTo(1L);
    assertThat(d.getStatus().observedGeneration()).isEqualTo(1L);
    assertThat(h.condition(d, Conditions.RESIZED).getObservedGeneration()).isEqualTo(2L);
    assertThat(d.getStatus().capacityBytes()).isEqualTo(16 * MI);
    assertThat(Files.size(image)).as("the file was not grown").isEqualTo(16 * MI);
    assertThat(ext4Bytes(image)).isEqualTo(16 * MI);

    // the refused grow holds no room, and a cordon leaves the disks already on a node alone
    h.create(Fixtures.disk("ns1", "after", Fixtures.spec("node-a", "16Mi", null, null, null)));
    h.awaitReady("ns1", "after");
    cordon("node-a", true, 1.0);
    h.create(Fixtures.disk("ns1", "late", Fixtures.spec("node-a", "16Mi", null, null, null)));
    h.awaitCondition("ns1", "late", Conditions.SCHEDULED, Conditions.FALSE, Reasons.NODE_CORDONED);
    assertThat(Conditions.isTrue(h.get("ns1", "after").getStatus().conditions(), Conditions.READY))
        .isTrue();
    assertThat(nodes.images("node-a")).containsExactly("ns1/after.img", "ns1/d.img");
    assertThat(nodes.images("node-b")).isEmpty();
    assertThat(nodes.builds("node-a")).isEqualTo(2);
  }

  @Test
  void deleteRemovesTheImageAndRetainKeepsIt() {
    h.create(Fixtures.disk("ns1", "gone", Fixtures.spec("node-a", "16Mi", null, null, null)));
    h.create(
        Fixtures.disk(
            "ns1",
            "kept",
            Fixtures.spec("node-a", "16Mi", null, null, VirtualDiskSpec.ReclaimPolicy.Retain)));
    h.awaitReady("ns1", "gone");
    h.awaitReady("ns1", "kept");
    api.client.resources(VirtualDisk.class).inNamespace("ns1").withName("gone").delete();
    api.client.resources(VirtualDisk.class).inNamespace("ns1").withName("kept").delete();
    await()
        .atMost(Duration.ofSeconds(20))
        .until(() -> h.get("ns1", "gone") == null && h.get("ns1", "kept") == null);
    assertThat(nodes.images("node-a")).containsExactly("ns1/kept.img");
    assertThat(h.events("ns1", "gone")).anyMatch(e -> e.startsWith("Normal Deleted:"));
    assertThat(h.events("ns1", "kept")).anyMatch(e -> e.startsWith("Normal Retained:"));
  }

  @Test
  void deletingAnAttachedImageIsBlockedUntilItIsDetached() throws Exception {
    h.create(Fixtures.disk("ns1", "d", Fixtures.spec("node-a", "16Mi", null, null, null)));
    String image = h.awaitReady("ns1", "d").getStatus().path();
    String loop = Exec.ok("losetup", "-f", "--show", image).strip();
    try {
      api.client.resources(VirtualDisk.class).inNamespace("ns1").withName("d").delete();
      VirtualDisk blocked =
          h.awaitCondition(
              "ns1", "d", Conditions.READY, Conditions.FALSE, Reasons.DELETION_BLOCKED);
      assertThat(blocked.getStatus().phase()).isEqualTo(VirtualDiskStatus.Phase.Deleting);
      assertThat(h.condition(blocked, Conditions.READY).getMessage()).startsWith("ImageInUse:");
      assertThat(h.events("ns1", "d"))
          .anyMatch(e -> e.startsWith("Warning DeletionBlocked: ImageInUse"));
      assertThat(Path.of(image)).exists();
    } finally {
      Exec.ok("losetup", "-d", loop);
    }
    await().atMost(Duration.ofSeconds(20)).until(() -> h.get("ns1", "d") == null);
    assertThat(Path.of(image)).doesNotExist();
  }

  @Test
  void fiftyDisksCreatedAtOnceAllBecomeReadyAcrossTheNodes() {
    for (int i = 0; i < 50; i++) {
      var fs = i % 2 == 0 ? VirtualDiskSpec.Filesystem.none : VirtualDiskSpec.Filesystem.ext4;
      h.create(Fixtures.disk("bulk", "d" + i, Fixtures.spec(null, "8Mi", fs, null, null)));
    }
    await()
        .atMost(Duration.ofSeconds(120))
        .pollInterval(Duration.ofMillis(500))
        .until(
            () ->
                api
                        .client
                        .resources(VirtualDisk.class)
                        .inNamespace("bulk")
                        .list()
                        .getItems()
                        .stream()
                        .filter(
                            d ->
                                d.getStatus() != null
                                    && Conditions.isTrue(
                                        d.getStatus().conditions(), Conditions.READY))
                        .count()
                    == 50);
    int total = 0;
    for (String n : List.of("node-a", "node-b", "node-c")) {
      assertThat(nodes.images(n)).as("every node takes a share").isNotEmpty();
      total += nodes.images(n).size();
    }
    assertThat(total).isEqualTo(50);
  }

  @Test
  void eachNodeGetsItsOwnTokenAndANodeWithoutOneGetsTheSharedToken() {
    // RealNodes gives node-a..c a certificate naming the node and a token of its own, as the
    // chart's
    // per-node mode does; node-d has no token file, so the operator falls back to the shared token.
    nodes.startWithSharedToken("node-d");
    for (String n : List.of("node-a", "node-b", "node-d")) {
      h.create(
          Fixtures.disk(
              "ns1",
              "on-" + n,
              Fixtures.spec(n, "8Mi", VirtualDiskSpec.Filesystem.none, null, null)));
    }
    for (String n : List.of("node-a", "node-b", "node-d")) {
      h.awaitReady("ns1", "on-" + n);
      assertThat(nodes.images(n)).containsExactly("ns1/on-" + n + ".img");
    }
    // the tokens really differ: node-a's agent answers neither node-b's token nor the shared one
    for (String wrong : List.of(nodes.token("node-b"), nodes.token)) {
      AgentClient client =
          new HttpAgentClient(
              nodes.agents.get("node-a").endpoint(), wrong, nodes.clientSsl, Duration.ofSeconds(5));
      assertThatThrownBy(() -> client.getDisk("ns1", "on-node-a"))
          .isInstanceOfSatisfying(
              AgentException.class, e -> assertThat(e.code()).isEqualTo(ErrorCodes.UNAUTHORIZED));
    }
  }

  private Populate populated() {
    return new Populate(
        List.of(new Populate.HostPath(nodes.sources().toString(), "/data")),
        null,
        null,
        null,
        null);
  }

  /** Random (incompressible, non-sparse) files so that populating takes a noticeable moment. */
  private void writeSource(int mib) throws IOException {
    Files.createDirectories(nodes.sources());
    Random random = new Random(1);
    byte[] chunk = new byte[1 << 20];
    for (int f = 0; f < mib / 8; f++) {
      try (OutputStream out = Files.newOutputStream(nodes.sources().resolve("f" + f + ".bin"))) {
        for (int i = 0; i < 8; i++) {
          random.nextBytes(chunk);
          out.write(chunk);
        }
      }
    }
  }

  private void cordon(String node, boolean unschedulable, double ratio) {
    api.client
        .resources(Dom0Node.class)
        .withName(node)
        .edit(
            n -> {
              n.setSpec(new Dom0NodeSpec(unschedulable, ratio));
              return n;
            });
  }

  private void edit(String name, String size) {
    api.client
        .resources(VirtualDisk.class)
        .inNamespace("ns1")
        .withName(name)
        .edit(
            cur -> {
              VirtualDiskSpec s = cur.getSpec();
              cur.setSpec(
                  new VirtualDiskSpec(
                      s.nodeName(),
                      size,
                      s.filesystem(),
                      s.populate(),
                      s.tailor(),
                      s.xen(),
                      s.preallocate(),
                      s.reclaimPolicy()));
              return cur;
            });
  }

  /** Block count x block size from the superblock: what the filesystem itself says its size is. */
  private static long ext4Bytes(Path image) throws Exception {
    long blocks = 0;
    long size = 0;
    for (String line : Exec.ok("dumpe2fs", "-h", image.toString()).split("\n")) {
      if (line.startsWith("Block count:")) blocks = Long.parseLong(line.substring(12).strip());
      if (line.startsWith("Block size:")) size = Long.parseLong(line.substring(11).strip());
    }
    return blocks * size;
  }
}
