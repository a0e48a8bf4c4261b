package io.xenvbd.local;

import static org.assertj.core.api.Assertions.assertThat;
import static org.awaitility.Awaitility.await;

import io.xenvbd.disk.RecipeImages;
import io.xenvbd.testing.Kubectl;
import io.xenvbd.testing.Manifests;
import io.xenvbd.testing.RequiresRoot;
import java.nio.file.Path;
import java.time.Duration;
import java.util.List;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * Local mode forgets its VirtualDisks when it stops, not their images: at the next start every
 * image whose VirtualDisk is gone is released, counted, listed on the Dom0Node, and adopted back
 * with the real kubectl, as it was.
 */
@RequiresRoot
class LocalModeRestartTest {
  @TempDir Path tmp;

  @Test
  void imagesTheLastRunLeftAreReleasedCountedAndAdoptedBackAsTheyWere() {
    LocalConfig config = new LocalConfig(tmp.resolve("state"), List.of(), 0, "restart-node");
    String uuid;
    String path;
    try (LocalMode mode = LocalMode.start(config)) {
      assertThat(mode.released()).isZero();
      Kubectl kubectl = new Kubectl(config.kubeconfig());
      kubectl
          .runWithInput(
              Manifests.disk("web", "16Mi", "tailor: {hostname: kept}"), "apply", "-f", "-")
          .ok();
      kubectl.run("wait", "--for=condition=Ready", "--timeout=90s", "vd/web").ok();
      uuid = kubectl.run("get", "vd", "web", "-o", "jsonpath={.status.filesystemUUID}").ok().out();
      path = kubectl.run("get", "vd", "web", "-o", "jsonpath={.status.path}").ok().out();
    }

    try (LocalMode again = LocalMode.start(config)) {
      assertThat(again.released()).isEqualTo(1);
      Kubectl kubectl = new Kubectl(config.kubeconfig());
      assertThat(kubectl.run("get", "vd").ok().err()).contains("No resources found");
      await()
          .atMost(Duration.ofSeconds(60))
          .pollInterval(Duration.ofMillis(250))
          .untilAsserted(
              () ->
                  assertThat(
                          kubectl
                              .run(
                                  "get",
                                  "dom0nodes",
                                  "restart-node",
                                  "-o",
                                  "jsonpath={.status.released[0].formerName} {.status.released[0].filesystemUUID} {.status.releasedCount}")
                              .out())
                      .isEqualTo("web " + uuid + " 1"));

      kubectl
          .runWithInput(
              Manifests.disk("web", "16Mi", "populate: {adopt: {name: web}}"), "apply", "-f", "-")
          .ok();
      kubectl.run("wait", "--for=condition=Ready", "--timeout=90s", "vd/web").ok();
      assertThat(
              kubectl
                  .run("get", "vd", "web", "-o", "jsonpath={.status.filesystemUUID} {.status.path}")
                  .ok()
                  .out())
          .isEqualTo(uuid + " " + path);
      assertThat(RecipeImages.run("debugfs", "-R", "cat /etc/hostname", path)).isEqualTo("kept\n");
      kubectl.run("delete", "vd", "web", "--wait=true", "--timeout=60s").ok();
      assertThat(Path.of(path)).doesNotExist();
    }
  }
}
