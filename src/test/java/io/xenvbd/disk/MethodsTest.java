package io.xenvbd.disk;

import static org.assertj.core.api.Assertions.assertThat;

import io.xenvbd.api.LoopDevices;
import io.xenvbd.api.Populate;
import io.xenvbd.api.VirtualDiskSpec.Filesystem;
import java.util.List;
import java.util.stream.IntStream;
import org.junit.jupiter.api.Test;

/**
 * Auto's choice: the loop-mount path while the node has loop devices to spare above the reserve.
 */
class MethodsTest {
  static LoopStatus inUse(int max, int used) {
    return new LoopStatus(
        max,
        IntStream.range(0, used)
            .mapToObj(i -> new LoopDevices.Device("loop" + i, "/var/lib/xen/images/g" + i + ".img"))
            .toList());
  }

  static Populate tree(Populate.Method m) {
    return new Populate(
        List.of(new Populate.HostPath("/srv/rootfs", "/")), null, null, List.of("/proc"), m);
  }

  @Test
  void autoLoopMountsATreeAboveTheReserveAndBuildsOfflineAtOrBelowIt() {
    // 8 devices, reserve 2: 5 in use leaves 3 (> 2) → LoopMount; 6 in use leaves 2 (= reserve) →
    // Offline
    assertThat(Methods.offline(Filesystem.ext3, tree(Populate.Method.Auto), inUse(8, 5), 2))
        .isFalse();
    assertThat(Methods.offline(Filesystem.ext3, tree(Populate.Method.Auto), inUse(8, 6), 2))
        .isTrue();
    assertThat(Methods.offline(Filesystem.ext4, tree(Populate.Method.Auto), inUse(8, 8), 2))
        .isTrue();
    assertThat(Methods.offline(Filesystem.ext4, tree(Populate.Method.Auto), inUse(8, 8), 0))
        .isTrue();
    assertThat(Methods.offline(Filesystem.ext4, tree(Populate.Method.Auto), inUse(8, 7), 0))
        .isFalse();
    // max_loop 0: the kernel makes devices on demand, so there are always some to spare
    assertThat(Methods.offline(Filesystem.ext2, tree(Populate.Method.Auto), inUse(0, 40), 2))
        .isFalse();
  }

  @Test
  void autoStaysOfflineWithNoTreeToCopyAndForClonesAndExplicitMethodsWin() {
    Populate dirsOnly = new Populate(null, null, null, List.of("/proc"), Populate.Method.Auto);
    assertThat(Methods.offline(Filesystem.ext4, dirsOnly, inUse(8, 0), 2)).isTrue();
    Populate clone =
        new Populate(null, null, new Populate.CloneFrom("golden"), List.of(), Populate.Method.Auto);
    assertThat(Methods.offline(Filesystem.ext4, clone, inUse(8, 0), 2)).isTrue();
    assertThat(Methods.offline(Filesystem.ext4, tree(Populate.Method.Offline), inUse(8, 0), 2))
        .isTrue();
    assertThat(Methods.offline(Filesystem.ext4, tree(Populate.Method.LoopMount), inUse(8, 8), 2))
        .isFalse();
    assertThat(Methods.offline(Filesystem.xfs, tree(Populate.Method.Auto), inUse(8, 8), 2))
        .isFalse();
  }
}
