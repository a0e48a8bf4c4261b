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
    return new VirtualDiskStatus(
        VirtualDiskStatus.Phase.Ready,
        1L,
        node,
        "/p",
        capacity,
        1L,
        "1B",
        null,
        null,
        null,
        null,
        null,
        List.of(
            new ConditionBuilder()
                .withType("Ready")
                .withStatus(ready ? "True" : "False")
                .withReason("x")
                .build()));
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
      assertThat(check(Fixtures.spec(null, bad, null, null, null), null))
          .as(bad)
          .get()
          .extracting(Outcome.Invalid::reason)
          .isEqualTo(Reasons.INVALID_SPEC);
    }
  }

  @Test
  void refusesShrinkingBelowTheBuiltSizeButAllowsGrowing() {
    assertThat(
            check(Fixtures.spec(null, "1Gi", null, null, null), built("a", 2L << 30, true))
                .get()
                .message())
        .contains("never shrink", "at least 2Gi");
    assertThat(check(Fixtures.spec(null, "3Gi", null, null, null), built("a", 2L << 30, true)))
        .isEmpty();
  }

  @Test
  void refusesAFilesystemOtherThanTheOneBuilt() {
    VirtualDisk d =
        Fixtures.disk(
            "ns", "d", Fixtures.spec(null, "1Gi", VirtualDiskSpec.Filesystem.xfs, null, null));
    d.setStatus(
        new VirtualDiskStatus(
            VirtualDiskStatus.Phase.Ready,
            1L,
            "a",
            "/p",
            1L << 30,
            1L,
            "1B",
            null,
            "ext4",
            null,
            null,
            null,
            List.of()));
    assertThat(validator.validate(d).get().message()).contains("immutable", "built with ext4");
  }

  /**
   * Disks placed by an operator that recorded the filesystem in an annotation are held to it too.
   */
  @Test
  void refusesAFilesystemOtherThanTheOneInTheLegacyAnnotation() {
    VirtualDisk d =
        Fixtures.disk(
            "ns", "d", Fixtures.spec(null, "1Gi", VirtualDiskSpec.Filesystem.xfs, null, null));
    d.getMetadata().setAnnotations(Map.of(SpecValidator.FILESYSTEM_ANNOTATION, "ext4"));
    assertThat(validator.validate(d).get().message()).contains("immutable", "built with ext4");
  }

  @Test
  void refusesMovingAPlacedDisk() {
    assertThat(
            check(Fixtures.spec("b", "1Gi", null, null, null), built("a", 1L << 30, true))
                .get()
                .message())
        .contains("spec.nodeName is immutable", "on a");
    assertThat(check(Fixtures.spec("a", "1Gi", null, null, null), built("a", 1L << 30, true)))
        .isEmpty();
  }

  @Test
  void refusesPathsWithDotDotOrRelativeParts() {
    var escape =
        new Populate(List.of(new Populate.HostPath("/srv/../etc", null)), null, null, null, null);
    assertThat(check(Fixtures.spec(null, "1Gi", null, escape, null), null).get().message())
        .contains("hostPaths");
    var relative = new Populate(null, null, null, List.of("proc"), null);
    assertThat(check(Fixtures.spec(null, "1Gi", null, relative, null), null).get().message())
        .contains("createDirs");
    var archive = new Populate(null, new Populate.Archive("ftp://x/y.tar", null), null, null, null);
    assertThat(check(Fixtures.spec(null, "1Gi", null, archive, null), null).get().message())
        .contains("archive.source");
  }

  @Test
  void cloneFromMustNameAnotherReadyDiskOnAnyNode() {
    var self = new Populate(null, null, new Populate.CloneFrom("d"), null, null);
    assertThat(check(Fixtures.spec(null, "1Gi", null, self, null), null).get().message())
        .contains("itself");

    var other = new Populate(null, null, new Populate.CloneFrom("base"), null, null);
    assertThat(check(Fixtures.spec(null, "1Gi", null, other, null), null).get().reason())
        .isEqualTo(Reasons.WAITING_FOR_SOURCE);

    VirtualDisk base = Fixtures.disk("ns", "base", "1Gi");
    base.setStatus(built("a", 1L << 30, false));
    disks.add(base);
    assertThat(check(Fixtures.spec(null, "1Gi", null, other, null), null).get().reason())
        .isEqualTo(Reasons.WAITING_FOR_SOURCE);

    base.setStatus(built("a", 1L << 30, true));
    assertThat(check(Fixtures.spec(null, "1Gi", null, other, null), null)).isEmpty();
    // another node than the source's: streamed there (protocol 4), no longer refused
    assertThat(check(Fixtures.spec("b", "1Gi", null, other, null), null)).isEmpty();

    var mixed =
        new Populate(
            List.of(new Populate.HostPath("/etc", null)),
            null,
            new Populate.CloneFrom("base"),
            null,
            null);
    assertThat(check(Fixtures.spec(null, "1Gi", null, mixed, null), null).get().message())
        .contains("cannot be combined");
  }

  @Test
  void malformedArchiveUrlsAreInvalidSpecsNamingTheField() {
    for (String url :
        new String[] {
          "http://%zz/", "http:///x", "http://[::1/", "http://a_b/r.tar", "http://h:99999/r.tar"
        }) {
      var archive = new Populate(null, new Populate.Archive(url, null), null, null, null);
      Outcome.Invalid invalid =
          check(Fixtures.spec(null, "1Gi", null, archive, null), null).orElseThrow();
      assertThat(invalid.reason()).as(url).isEqualTo(Reasons.INVALID_SPEC);
      assertThat(invalid.message())
          .as(url)
          .startsWith(
              "spec.populate.archive.source '" + url + "' is not a URL the agent can fetch (")
          .endsWith("): write it as https://host[:port]/path");
    }
    var secret =
        new Populate(
            null,
            new Populate.Archive("https://user:secret@mirror.example/r.tar", null),
            null,
            null,
            null);
    assertThat(check(Fixtures.spec(null, "1Gi", null, secret, null), null).orElseThrow().message())
        .contains("'https://***@mirror.example/r.tar'", "user name or password")
        .doesNotContain("secret");
    var fine =
        new Populate(
            null,
            new Populate.Archive("https://mirror.example:8443/images/root.tar.zst", null),
            null,
            null,
            null);
    assertThat(check(Fixtures.spec(null, "1Gi", null, fine, null), null)).isEmpty();
  }

  @Test
  void sizesBelowAFilesystemsMinimumAreRefusedNamingTheMinimum() {
    record Limit(VirtualDiskSpec.Filesystem fs, String below, String least, String message) {}
    for (Limit l :
        List.of(
            new Limit(
                VirtualDiskSpec.Filesystem.xfs,
                "299Mi",
                "300Mi",
                "spec.size must be at least 300Mi for xfs (mkfs.xfs makes no smaller filesystem): raise spec.size or choose ext4"),
            new Limit(
                VirtualDiskSpec.Filesystem.ext4,
                "2047Ki",
                "2Mi",
                "spec.size must be at least 2Mi for ext3 and ext4 (a smaller one has no room for its journal): raise spec.size or choose ext2"),
            new Limit(
                VirtualDiskSpec.Filesystem.ext3,
                "1M",
                "2Mi",
                "spec.size must be at least 2Mi for ext3 and ext4 (a smaller one has no room for its journal): raise spec.size or choose ext2"),
            new Limit(
                VirtualDiskSpec.Filesystem.ext2,
                "64Ki",
                "128Ki",
                "spec.size must be at least 128Ki for ext2 (mke2fs makes no smaller filesystem): raise spec.size"))) {
      assertThat(check(Fixtures.spec(null, l.below(), l.fs(), null, null), null))
          .as(l.fs() + " " + l.below())
          .hasValue(new Outcome.Invalid(Reasons.INVALID_SPEC, l.message()));
      assertThat(check(Fixtures.spec(null, l.least(), l.fs(), null, null), null))
          .as(l.fs() + " " + l.least())
          .isEmpty();
    }
    assertThat(check(Fixtures.spec(null, "1Ki", VirtualDiskSpec.Filesystem.none, null, null), null))
        .isEmpty();
  }

  /**
   * A built disk first hears that it cannot change filesystem; the new filesystem's minimum comes
   * after.
   */
  @Test
  void aBuiltDiskHearsOfTheImmutableFilesystemBeforeAnyOtherRule() {
    VirtualDisk d =
        Fixtures.disk(
            "ns", "d", Fixtures.spec(null, "64Mi", VirtualDiskSpec.Filesystem.xfs, null, null));
    d.setStatus(
        new VirtualDiskStatus(
            VirtualDiskStatus.Phase.Ready,
            1L,
            "a",
            "/p",
            64L << 20,
            1L,
            "1B",
            null,
            "ext4",
            null,
            null,
            null,
            List.of()));
    assertThat(validator.validate(d).get().message()).startsWith("spec.filesystem is immutable");
    d.setStatus(null);
    assertThat(validator.validate(d).get().message())
        .startsWith("spec.size must be at least 300Mi for xfs");
  }
}
