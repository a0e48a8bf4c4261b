package io.xenvbd.operator;

import static org.assertj.core.api.Assertions.assertThat;
import static org.awaitility.Awaitility.await;

import io.fabric8.kubernetes.api.model.Condition;
import io.xenvbd.api.Conditions;
import io.xenvbd.api.Dom0Node;
import io.xenvbd.api.Dom0NodeStatus;
import io.xenvbd.api.Populate;
import io.xenvbd.api.Tailor;
import io.xenvbd.api.VirtualDisk;
import io.xenvbd.api.VirtualDiskSpec;
import io.xenvbd.api.VirtualDiskSpec.Filesystem;
import io.xenvbd.api.VirtualDiskSpec.ReclaimPolicy;
import io.xenvbd.disk.RecipeImages;
import io.xenvbd.testing.RequiresRoot;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.List;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * Retain and adoption end to end: the operator, a real agent over HTTPS and the mock API in CRUD
 * mode. A deleted Retain disk's image shows in its Dom0Node's status.released with its former
 * owner, is refused to another namespace, and is taken back (same path, UUID and data) by a new
 * VirtualDisk; a file made with the recipe's commands in the agent's import directory becomes a
 * Ready disk.
 */
@RequiresRoot
class RetainAndAdoptTest {
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
    nodes.start("node-a");
    await()
        .atMost(Duration.ofSeconds(10))
        .until(
            () ->
                node() != null
                    && node().getStatus() != null
                    && node().getStatus().storage() != null);
    h.start(nodes.clients());
  }

  @AfterEach
  void stop() {
    h.stopOperator();
    nodes.close();
    h.close();
  }

  private Dom0Node node() {
    return api.client.resources(Dom0Node.class).withName("node-a").get();
  }

  private static VirtualDisk disk(
      String ns,
      String name,
      String node,
      String size,
      Filesystem fs,
      Populate populate,
      Tailor tailor,
      ReclaimPolicy policy) {
    return Fixtures.disk(
        ns, name, new VirtualDiskSpec(node, size, fs, populate, tailor, null, null, policy));
  }

  private static Populate adopt(Populate.Adopt a) {
    return new Populate(null, null, null, null, null, a);
  }

  private String readyMessage(String ns, String name) {
    Condition c = h.condition(h.get(ns, name), Conditions.READY);
    return c == null ? "" : c.getReason() + ": " + c.getMessage();
  }

  @Test
  void aRetainedImageIsListedAsReleasedRefusedToAnotherNamespaceAndAdoptedBackAsItWas()
      throws Exception {
    h.create(
        disk(
            "ns1",
            "web",
            "node-a",
            "16Mi",
            Filesystem.ext4,
            null,
            new Tailor("web1", null, null),
            ReclaimPolicy.Retain));
    VirtualDisk built = h.awaitReady("ns1", "web");
    String uid = built.getMetadata().getUid();
    String uuid = built.getStatus().filesystemUUID();
    String path = built.getStatus().path();

    api.client.resources(VirtualDisk.class).inNamespace("ns1").withName("web").delete();
    await().atMost(Duration.ofSeconds(20)).until(() -> h.get("ns1", "web") == null);
    assertThat(h.events("ns1", "web"))
        .anyMatch(
            e ->
                e.startsWith("Normal Retained:")
                    && e.contains("released")
                    && e.contains("spec.populate.adopt.name web"));
    await()
        .atMost(Duration.ofSeconds(20))
        .untilAsserted(
            () -> {
              Dom0NodeStatus s = node().getStatus();
              assertThat(s.releasedCount()).isEqualTo(1);
              assertThat(s.released())
                  .singleElement()
                  .satisfies(
                      r -> {
                        assertThat(r.path()).isEqualTo(path);
                        assertThat(r.capacityBytes()).isEqualTo(16L << 20);
                        assertThat(r.allocatedBytes()).isPositive();
                        assertThat(r.filesystem()).isEqualTo("ext4");
                        assertThat(r.filesystemUUID()).isEqualTo(uuid);
                        assertThat(r.formerNamespace()).isEqualTo("ns1");
                        assertThat(r.formerName()).isEqualTo("web");
                        assertThat(r.formerUid()).isEqualTo(uid);
                        assertThat(r.releasedAt()).isNotBlank();
                      });
              assertThat(s.orphans()).isNullOrEmpty();
            });
    String sum = RecipeImages.run("sha256sum", path).split(" ")[0];

    // Another namespace may not have it, by name or by UUID; nothing is touched.
    h.create(
        disk(
            "ns2",
            "steal",
            null,
            "16Mi",
            Filesystem.ext4,
            adopt(new Populate.Adopt("web", "ns1", null, null)),
            null,
            null));
    await()
        .atMost(Duration.ofSeconds(20))
        .until(() -> readyMessage("ns2", "steal").contains("released from namespace ns1"));
    assertThat(readyMessage("ns2", "steal")).contains("create this VirtualDisk in namespace ns1");
    api.client.resources(VirtualDisk.class).inNamespace("ns2").withName("steal").delete();
    await().atMost(Duration.ofSeconds(20)).until(() -> h.get("ns2", "steal") == null);

    // Its own namespace takes it back, under the same name, placed where the image is.
    h.create(
        disk(
            "ns1",
            "web",
            null,
            "16Mi",
            Filesystem.ext4,
            adopt(new Populate.Adopt("web", null, null, null)),
            null,
            ReclaimPolicy.Retain));
    VirtualDisk back = h.awaitReady("ns1", "web");
    assertThat(back.getStatus().nodeName()).isEqualTo("node-a");
    assertThat(back.getStatus().path()).isEqualTo(path);
    assertThat(back.getStatus().filesystemUUID()).isEqualTo(uuid);
    assertThat(back.getStatus().capacityBytes()).isEqualTo(16L << 20);
    assertThat(back.getStatus().xen().disk()).endsWith("target=" + path);
    assertThat(back.getStatus().xen().legacyDisk()).startsWith("file:" + path + ",");
    assertThat(RecipeImages.run("sha256sum", path).split(" ")[0])
        .as("no byte rewritten")
        .isEqualTo(sum);
    assertThat(RecipeImages.run("debugfs", "-R", "cat /etc/hostname", path)).isEqualTo("web1\n");
    await().atMost(Duration.ofSeconds(20)).until(() -> node().getStatus().releasedCount() == 0);
  }

  @Test
  void anImageMadeWithTheRecipesCommandsIsAdoptedFromTheImportDirectoryAndReady() throws Exception {
    Path imports = Files.createDirectories(nodes.imports("node-a"));
    Path tree = Files.createDirectories(dir.resolve("tree/etc"));
    Files.writeString(tree.resolve("hostname"), "vm1\n");
    Path img = imports.resolve("vm1disk");
    RecipeImages.make(img, tree.getParent());
    String uuid =
        RecipeImages.run("blkid", "-p", "-o", "value", "-s", "UUID", img.toString()).strip();

    h.create(
        disk(
            "ns1",
            "vm1",
            "node-a",
            "16385Ki",
            Filesystem.ext3,
            adopt(new Populate.Adopt(null, null, null, "vm1disk")),
            null,
            null));
    VirtualDisk d = h.awaitReady("ns1", "vm1");
    assertThat(d.getStatus().filesystemUUID()).isEqualTo(uuid);
    assertThat(d.getStatus().capacityBytes()).isEqualTo((16L << 20) + 1024);
    assertThat(Path.of(d.getStatus().path())).exists();
    assertThat(img).doesNotExist();
    assertThat(RecipeImages.run("debugfs", "-R", "cat /etc/hostname", d.getStatus().path()))
        .isEqualTo("vm1\n");
    assertThat(nodes.images("node-a")).isEqualTo(List.of("ns1/vm1.img"));
  }
}
