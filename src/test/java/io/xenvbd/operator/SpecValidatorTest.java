package io.xenvbd.operator;

import static org.assertj.core.api.Assertions.assertThat;

import io.fabric8.kubernetes.api.model.ConditionBuilder;
import io.xenvbd.api.Populate;
import io.xenvbd.api.Reasons;
import io.xenvbd.api.VirtualDisk;
import io.xenvbd.api.VirtualDiskSpec;
import io.xenvbd.api.VirtualDiskStatus;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import org.junit.jupiter.api.Test;

/** The operator's own copy of the schema and transition rules, from plain objects. */
class SpecValidatorTest {
  final List<VirtualDisk> disks = new ArrayList<>();
  final SpecValidator validator = new SpecValidator(ClusterView.of(List.of(), disks));

  static VirtualDiskStatus built(String node, long capacity, boolean ready) {
    return new VirtualDiskStatus(VirtualDiskStatus.Phase.Ready, 1L, node, "/p", capacity, 1L, "1B", null, null, null, null, null,
        List.of(new ConditionBuilder().withType("Ready").withStatus(ready ? "True" : "False").withReason("x").build()));
  }

  Optional<Outcome.Invalid> check(VirtualDiskSpec spec, VirtualDiskStatus status) {
    VirtualDisk d = Fixtures.disk("ns", "d", spec);
    d.setStatus(status);
    return validator.validate(d);
  }

  @Test
  void acceptsAPlainSpec() {
    assertThat(check(Fixtures.spec(null, "2Gi", null, null, null), null)).isEmpty();
  }

  @Test
  void rejectsSizesThatAreNotPositiveQuantities() {
    for (String bad : new String[] {"0", "-1Gi", "2GB", "lots", "1e3"}) {
      assertThat(check(Fixtures.spec(null, bad, null, null, null), null)).as(bad).get()
          .extracting(Outcome.Invalid::reason).isEqualTo(Reasons.INVALID_SPEC);
    }
  }

  @Test
  void refusesShrinkingBelowTheBuiltSizeButAllowsGrowing() {
    assertThat(check(Fixtures.spec(null, "1Gi", null, null, null), built("a", 2L << 30, true)).get().message())
        .contains("never shrink", "at least 2Gi");
    assertThat(check(Fixtures.spec(null, "3Gi", null, null, null), built("a", 2L << 30, true))).isEmpty();
  }

  @Test
  void refusesAFilesystemOtherThanTheOneBuilt() {
    VirtualDisk d = Fixtures.disk("ns", "d", Fixtures.spec(null, "1Gi", VirtualDiskSpec.Filesystem.xfs, null, null));
    d.setStatus(new VirtualDiskStatus(VirtualDiskStatus.Phase.Ready, 1L, "a", "/p", 1L << 30, 1L, "1B", null, "ext4",
        null, null, null, List.of()));
    assertThat(validator.validate(d).get().message()).contains("immutable", "built with ext4");
  }

  /** Disks placed by an operator that recorded the filesystem in an annotation are held to it too. */
  @Test
  void refusesAFilesystemOtherThanTheOneInTheLegacyAnnotation() {
    VirtualDisk d = Fixtures.disk("ns", "d", Fixtures.spec(null, "1Gi", VirtualDiskSpec.Filesystem.xfs, null, null));
    d.getMetadata().setAnnotations(Map.of(SpecValidator.FILESYSTEM_ANNOTATION, "ext4"));
    assertThat(validator.validate(d).get().message()).contains("immutable", "built with ext4");
  }

  @Test
  void refusesMovingAPlacedDisk() {
    assertThat(check(Fixtures.spec("b", "1Gi", null, null, null), built("a", 1L << 30, true)).get().message())
        .contains("spec.nodeName is immutable", "on a");
    assertThat(check(Fixtures.spec("a", "1Gi", null, null, null), built("a", 1L << 30, true))).isEmpty();
  }

  @Test
  void refusesPathsWithDotDotOrRelativeParts() {
    var escape = new Populate(List.of(new Populate.HostPath("/srv/../etc", null)), null, null, null, null);
    assertThat(check(Fixtures.spec(null, "1Gi", null, escape, null), null).get().message()).contains("hostPaths");
    var relative = new Populate(null, null, null, List.of("proc"), null);
    assertThat(check(Fixtures.spec(null, "1Gi", null, relative, null), null).get().message()).contains("createDirs");
    var archive = new Populate(null, new Populate.Archive("ftp://x/y.tar", null), null, null, null);
    assertThat(check(Fixtures.spec(null, "1Gi", null, archive, null), null).get().message()).contains("archive.source");
  }

  @Test
  void cloneFromMustNameAnotherReadyDiskOnTheSameNode() {
    var self = new Populate(null, null, new Populate.CloneFrom("d"), null, null);
    assertThat(check(Fixtures.spec(null, "1Gi", null, self, null), null).get().message()).contains("itself");

    var other = new Populate(null, null, new Populate.CloneFrom("base"), null, null);
    assertThat(check(Fixtures.spec(null, "1Gi", null, other, null), null).get().reason()).isEqualTo(Reasons.WAITING_FOR_SOURCE);

    VirtualDisk base = Fixtures.disk("ns", "base", "1Gi");
    base.setStatus(built("a", 1L << 30, false));
    disks.add(base);
    assertThat(check(Fixtures.spec(null, "1Gi", null, other, null), null).get().reason()).isEqualTo(Reasons.WAITING_FOR_SOURCE);

    base.setStatus(built("a", 1L << 30, true));
    assertThat(check(Fixtures.spec(null, "1Gi", null, other, null), null)).isEmpty();
    assertThat(check(Fixtures.spec("b", "1Gi", null, other, null), null).get().message()).contains("set spec.nodeName to a");

    var mixed = new Populate(List.of(new Populate.HostPath("/etc", null)), null, new Populate.CloneFrom("base"), null, null);
    assertThat(check(Fixtures.spec(null, "1Gi", null, mixed, null), null).get().message()).contains("cannot be combined");
  }
}
