package io.xenvbd.api;

import static org.assertj.core.api.Assertions.assertThat;

import io.xenvbd.api.VirtualDiskSpec.Filesystem;
import java.util.List;
import org.junit.jupiter.api.Test;

/** Which builds take a loop device, as the operator decides before it places a disk. */
class BuildPlanTest {
  private static final Tailor HOSTNAME = new Tailor("vm1", null, null);

  private static VirtualDiskSpec spec(Filesystem fs, Populate populate, Tailor tailor) {
    return new VirtualDiskSpec(null, "1Gi", fs, populate, tailor, null, false, null);
  }

  private static Populate clone(Populate.Method method) {
    return new Populate(null, null, new Populate.CloneFrom("golden"), List.of("/srv"), method);
  }

  @Test
  void anExtCloneIsTailoredInItsImageFileWithoutALoopDevice() {
    assertThat(BuildPlan.needsLoopDevice(spec(Filesystem.ext4, clone(null), HOSTNAME), false))
        .isFalse();
    assertThat(
            BuildPlan.needsLoopDevice(
                spec(Filesystem.ext3, clone(Populate.Method.Offline), HOSTNAME), true))
        .isFalse();
  }

  @Test
  void anXfsCloneOrALoopMountCloneWithContentIsMounted() {
    assertThat(BuildPlan.needsLoopDevice(spec(Filesystem.xfs, clone(null), HOSTNAME), false))
        .isTrue();
    assertThat(
            BuildPlan.needsLoopDevice(
                spec(Filesystem.ext4, clone(Populate.Method.LoopMount), HOSTNAME), false))
        .isTrue();
    assertThat(
            BuildPlan.needsLoopDevice(
                spec(
                    Filesystem.xfs,
                    new Populate(null, null, new Populate.CloneFrom("golden"), null, null),
                    null),
                true))
        .as("an xfs clone that grows")
        .isTrue();
  }

  @Test
  void copyingOntoACloneIsMounted() {
    Populate onTop =
        new Populate(
            List.of(new Populate.HostPath("/srv/tree", "/")),
            null,
            new Populate.CloneFrom("golden"),
            null,
            null);
    assertThat(BuildPlan.needsLoopDevice(spec(Filesystem.ext4, onTop, null), false)).isTrue();
  }
}
