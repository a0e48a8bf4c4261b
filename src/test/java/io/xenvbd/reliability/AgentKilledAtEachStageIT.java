package io.xenvbd.reliability;

import static org.assertj.core.api.Assertions.assertThat;

import com.sun.net.httpserver.HttpServer;
import io.fabric8.kubernetes.api.model.Condition;
import io.xenvbd.api.Conditions;
import io.xenvbd.api.VirtualDisk;
import io.xenvbd.testing.Host;
import io.xenvbd.testing.Manifests;
import io.xenvbd.testing.RequiresRoot;
import java.net.InetSocketAddress;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.Executors;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicInteger;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.io.TempDir;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.ValueSource;

/**
 * Promise 1 (nothing lost) and 2 (idempotent) under the worst fault a node has: the agent's JVM and
 * the tools it runs are SIGKILLed in the middle of a build, at each stage in turn, then restarted.
 * The disk must still become Ready, with a clean filesystem and the right content, exactly one
 * image, no temporary file, and no loop device or mount left in the kernel.
 */
@RequiresRoot
class AgentKilledAtEachStageIT {
  static final int FILES = 40;
  static final int TAILOR_FILES =
      48; // with the final sync and the umount the Tailor stage lasts long enough to be hit
  @TempDir static Path tmp;
  static Rig rig;
  static AgentProcess agent;
  static Path root;
  static Path source;
  static Path archive;
  static HttpServer archiveServer;
  static final AtomicInteger archiveRequests = new AtomicInteger();
  static volatile CountDownLatch archiveStalled = new CountDownLatch(1);
  static volatile CountDownLatch releaseArchive = new CountDownLatch(1);
  static final List<String> survived = new ArrayList<>();

  @BeforeAll
  static void start() throws Exception {
    rig = new Rig(tmp.resolve("rig"));
    root = tmp.resolve("images");
    source = SourceTree.make(tmp.resolve("dom0-tree"), FILES, 1 << 20);
    Path archived = Files.createDirectories(tmp.resolve("archived/opt"));
    Files.writeString(archived.resolve("from-archive.txt"), "unpacked from a tar\n");
    archive = SourceTree.tar(tmp.resolve("archived"), tmp.resolve("rootfs.tar"));
    archiveServer = HttpServer.create(new InetSocketAddress("127.0.0.1", 0), 8);
    archiveServer.createContext(
        "/rootfs.tar",
        ex -> {
          // The first download of each case stalls: the agent is killed while it sits in the Create
          // stage.
          byte[] body = Files.readAllBytes(archive);
          if (archiveRequests.incrementAndGet() == 1) {
            ex.sendResponseHeaders(200, body.length);
            ex.getResponseBody().write(body, 0, 512);
            ex.getResponseBody().flush();
            archiveStalled.countDown();
            try {
              releaseArchive.await(120, TimeUnit.SECONDS);
            } catch (InterruptedException ignored) {
              Thread.currentThread().interrupt();
            }
            ex.close();
            return;
          }
          ex.sendResponseHeaders(200, body.length);
          ex.getResponseBody().write(body);
          ex.close();
        });
    archiveServer.setExecutor(Executors.newCachedThreadPool());
    archiveServer.start();
    agent =
        rig.agentProcess(
            "node-k",
            root,
            List.of(source),
            "--allow-url",
            "http://127.0.0.1:" + archiveServer.getAddress().getPort() + "/",
            "--allow-private-host",
            "127.0.0.1");
    rig.startOperator();
  }

  /** A failed case must not leave its disk to the next one. */
  @AfterEach
  void deleteEverything() {
    if (!agent.alive()) agent.start(rig.clientSsl);
    releaseArchive.countDown();
    for (VirtualDisk d :
        rig.client.resources(VirtualDisk.class).inAnyNamespace().list().getItems()) {
      rig.delete(d.getMetadata().getName());
    }
    org.awaitility.Awaitility.await()
        .atMost(Duration.ofSeconds(60))
        .until(
            () ->
                rig.client
                    .resources(VirtualDisk.class)
                    .inAnyNamespace()
                    .list()
                    .getItems()
                    .isEmpty());
  }

  @AfterAll
  static void stop() {
    releaseArchive.countDown();
    if (rig != null) rig.close();
    if (archiveServer != null) archiveServer.stop(0);
    if (root != null) Host.releaseAll(root);
    System.out.println(
        "[reliability] agent SIGKILLs survived: " + survived.size() + " " + survived);
  }

  static String spec(String name, String stage) {
    StringBuilder files = new StringBuilder();
    for (int i = 0; i < TAILOR_FILES; i++)
      files
          .append("\n    - {path: /etc/xenvbd/f")
          .append(i)
          .append(", content: \"")
          .append(i)
          .append("\", mode: \"0600\"}");
    String archivePart =
        stage.equals("Create")
            ? """
              archive: {source: "http://127.0.0.1:%d/rootfs.tar", sha256: %s}
            """
                .formatted(archiveServer.getAddress().getPort(), SourceTree.sha256(archive))
            : "";
    return Manifests.disk(
        name,
        "20Gi",
        """
        nodeName: node-k
        populate:
          method: LoopMount
          hostPaths: [{path: %s, target: /}]
        %s  createDirs: [/proc, /sys, /tmp]
        tailor:
          hostname: %s
          fstab: [{device: self, mountPoint: /, type: ext4, pass: 1}]
          files:%s
        """
            .formatted(source, archivePart, name, files));
  }

  @ParameterizedTest(name = "killed during {0}")
  @ValueSource(strings = {"Create", "Format", "Populate", "Tailor", "Check", "Publish"})
  void agentKilledDuringAStageThenRestartedBuildsTheDiskOnceCleanly(String stage) throws Exception {
    String name = null;
    String observed = null;
    // Publish lasts a few fsyncs: on a busy host the build may finish before the watcher sees it;
    // retry.
    for (int attempt = 1; observed == null; attempt++) {
      if (name != null) {
        rig.delete(name);
        rig.awaitGone(name, Duration.ofSeconds(60));
        assertThat(attempt).as("attempts to catch " + stage).isLessThanOrEqualTo(6);
      }
      name = "crash-" + stage.toLowerCase() + "-" + attempt;
      archiveRequests.set(0);
      archiveStalled = new CountDownLatch(1);
      releaseArchive = new CountDownLatch(1);
      rig.apply(spec(name, stage));
      observed =
          new StageKiller(agent, rig, root)
              .killWhenIn(stage, name, () -> archiveStalled.getCount() == 0);
    }
    List<String> afterKill = new ArrayList<>(Host.leftovers(root));
    afterKill.addAll(Host.loopsUnder(root));
    afterKill.addAll(Host.mountsUnder(root));
    releaseArchive.countDown();
    // Killed between the rename and the answer, a Publish-stage kill may find the image complete:
    // that is
    // the one case where the restarted agent has nothing to build.
    boolean publishedAtKill = Files.exists(root.resolve("default/" + name + ".img"));
    if (!stage.equals("Publish"))
      assertThat(publishedAtKill).as("an image published by a killed build").isFalse();
    Condition ready = Rig.condition(rig.get(name), Conditions.READY);
    assertThat(ready == null ? "none" : ready.getStatus())
        .as("Ready after the kill")
        .isNotEqualTo(Conditions.TRUE);

    agent.start(rig.clientSsl);
    VirtualDisk disk = rig.awaitReady(name, Duration.ofSeconds(180));
    Path image = Path.of(disk.getStatus().path());

    assertThat(image).isEqualTo(root.resolve("default/" + name + ".img"));
    Host.assertFsckClean(image);
    assertThat(Host.cat(image, "/etc/hostname")).isEqualTo(name + "\n");
    assertThat(Host.cat(image, "/etc/fstab")).contains("UUID=" + disk.getStatus().filesystemUUID());
    assertThat(Host.cat(image, "/etc/issue"))
        .isEqualTo(Files.readString(source.resolve("etc/issue")));
    assertThat(Host.cat(image, "/etc/xenvbd/f" + (TAILOR_FILES - 1)))
        .isEqualTo(String.valueOf(TAILOR_FILES - 1));
    assertThat(SourceTree.dump(image, "/data/blob-" + (FILES - 1), tmp))
        .isEqualTo(Files.readAllBytes(source.resolve("data/blob-" + (FILES - 1))));
    if (stage.equals("Create"))
      assertThat(Host.cat(image, "/opt/from-archive.txt")).isEqualTo("unpacked from a tar\n");
    assertThat(Host.images(root))
        .as("exactly one image")
        .containsExactly("default/" + name + ".img");
    assertThat(Host.leftovers(root)).as("temporary files left after the restart").isEmpty();
    assertThat(Host.loopsUnder(root)).as("loop devices left").isEmpty();
    assertThat(Host.mountsUnder(root)).as("mounts left").isEmpty();
    String metrics = AgentMetrics.scrape(rig.clientSsl, agent.port);
    assertThat(AgentMetrics.operations(metrics, "build"))
        .as("builds by the restarted agent")
        .isEqualTo(publishedAtKill ? 0 : 1);

    rig.delete(name);
    rig.awaitGone(name, Duration.ofSeconds(60));
    assertThat(Host.images(root)).isEmpty();
    synchronized (survived) {
      survived.add(
          stage
              + " ("
              + observed
              + (publishedAtKill ? ", image already renamed" : "")
              + "; left at kill: "
              + afterKill.size()
              + " temp/loop/mount)");
    }
  }
}
