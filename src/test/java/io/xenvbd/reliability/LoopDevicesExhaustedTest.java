package io.xenvbd.reliability;

import static org.assertj.core.api.Assertions.assertThat;
import static org.awaitility.Awaitility.await;

import io.fabric8.kubernetes.api.model.Condition;
import io.xenvbd.api.Conditions;
import io.xenvbd.api.Dom0Node;
import io.xenvbd.api.VirtualDisk;
import io.xenvbd.testing.Exec;
import io.xenvbd.testing.Host;
import io.xenvbd.testing.Manifests;
import io.xenvbd.testing.RequiresRoot;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * Every loop device of the host taken (small files attached until {@code losetup -f} fails, held
 * only for seconds because other tests share them): LoopMount work waits unplaced with a clear
 * reason, Offline work carries on, placement says why it waits, and everything recovers once they
 * are freed.
 */
@RequiresRoot
class LoopDevicesExhaustedTest {
  @TempDir Path tmp;

  @Test
  void noFreeLoopDeviceHoldsLoopMountBackClearlyOfflineContinuesAndAllRecover() throws Exception {
    Path root = tmp.resolve("images");
    Rig rig = new Rig(tmp.resolve("rig"));
    List<String> held = new ArrayList<>();
    try {
      rig.agent("node-l", root, List.of(), rig.client, c -> c.loopWait(Duration.ofSeconds(3)));
      rig.startOperator();
      rig.apply(
          Manifests.disk(
              "before",
              "64Mi",
              "nodeName: node-l\npopulate: {method: LoopMount, createDirs: [/tmp]}"));
      rig.awaitReady("before", Duration.ofSeconds(60));

      // Up to max_loop devices in use, or until losetup -f fails. (On this kernel losetup -f goes
      // on
      // creating devices past max_loop through /dev/loop-control; the agent counts max_loop as the
      // limit.)
      int max =
          Integer.parseInt(
              Files.readString(Path.of("/sys/module/loop/parameters/max_loop")).strip());
      for (int i = 0; i < 64 && (max == 0 || inUse() < max); i++) {
        Path hog = tmp.resolve("hog-" + i);
        Exec.run("truncate", "-s", "1M", hog.toString()).ok();
        Exec.Result r = Exec.run("losetup", "-f", "--show", hog.toString());
        if (r.exit() != 0) break;
        held.add(r.out().strip());
      }
      await()
          .atMost(Duration.ofSeconds(10))
          .until(
              () -> {
                Dom0Node n = rig.client.resources(Dom0Node.class).withName("node-l").get();
                return n.getStatus().loopDevices().available() == 0;
              });

      rig.apply(
          Manifests.disk(
              "loopy",
              "64Mi",
              "nodeName: node-l\npopulate: {method: LoopMount, createDirs: [/tmp]}"));
      rig.apply(
          Manifests.disk(
              "offline",
              "64Mi",
              "nodeName: node-l\npopulate: {method: Offline, createDirs: [/tmp]}\ntailor: {hostname: offline}"));
      rig.apply(Manifests.disk("unplaced", "64Mi", ""));

      // spec.nodeName gets the placement rules: a build that mounts waits unplaced, and nothing
      // reaches the agent
      VirtualDisk loopy =
          rig.awaitCondition(
              "loopy",
              Conditions.SCHEDULED,
              Conditions.FALSE,
              "LoopDevicesExhausted",
              Duration.ofSeconds(30));
      Condition failed = Rig.condition(loopy, Conditions.READY);
      assertThat(failed.getReason()).isEqualTo("LoopDevicesExhausted");
      assertThat(failed.getMessage())
          .contains("Dom0Node node-l has no free loop device", "populate.method Offline");
      assertThat(loopy.getStatus().nodeName()).isNull();
      VirtualDisk offline = rig.awaitReady("offline", Duration.ofSeconds(30));
      VirtualDisk unplaced =
          rig.awaitCondition(
              "unplaced",
              Conditions.SCHEDULED,
              Conditions.FALSE,
              "LoopDevicesExhausted",
              Duration.ofSeconds(30));
      assertThat(Rig.condition(unplaced, Conditions.SCHEDULED).getMessage())
          .contains("no free loop device");
      assertThat(Host.images(root)).containsExactly("default/before.img", "default/offline.img");
      System.out.println(
          "[reliability] loop devices exhausted ("
              + held.size()
              + " held): "
              + failed.getMessage()
              + " | placement: "
              + Rig.condition(unplaced, Conditions.SCHEDULED).getMessage());

      release(held);
      rig.awaitReady("loopy", Duration.ofSeconds(60));
      rig.awaitReady("unplaced", Duration.ofSeconds(60));
      // LoopDeviceAvailable follows the node's heartbeat, which may come after the build that
      // ended: it turns True then.
      await()
          .atMost(Duration.ofSeconds(30))
          .untilAsserted(
              () ->
                  assertThat(
                          Rig.condition(rig.get("loopy"), Conditions.LOOP_DEVICE_AVAILABLE)
                              .getStatus())
                      .isEqualTo(Conditions.TRUE));
      for (String name : List.of("before", "loopy", "offline", "unplaced")) {
        Host.assertFsckClean(Path.of(rig.get(name).getStatus().path()));
      }
      assertThat(Host.cat(Path.of(offline.getStatus().path()), "/etc/hostname"))
          .isEqualTo("offline\n");
      assertThat(Host.loopsUnder(root)).isEmpty();
      assertThat(Host.mountsUnder(root)).isEmpty();
      assertThat(Host.leftovers(root)).as("temporary files after recovery").isEmpty();
    } finally {
      release(held);
      rig.close();
      Host.releaseAll(root);
    }
  }

  static long inUse() {
    return Exec.run("losetup", "-a").ok().out().lines().filter(l -> !l.isBlank()).count();
  }

  static void release(List<String> devices) {
    for (String dev : devices) Exec.run("losetup", "-d", dev);
    devices.clear();
  }
}
