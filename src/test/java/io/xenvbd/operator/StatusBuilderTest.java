package io.xenvbd.operator;

import static io.xenvbd.operator.Fixtures.GI;
import static org.assertj.core.api.Assertions.assertThat;

import io.xenvbd.api.Conditions;
import io.xenvbd.api.Dom0Node;
import io.xenvbd.api.Reasons;
import io.xenvbd.api.VirtualDisk;
import io.xenvbd.api.VirtualDiskSpec;
import io.xenvbd.api.VirtualDiskStatus;
import io.xenvbd.api.Xen;
import io.xenvbd.protocol.DiskState;
import java.time.Clock;
import java.time.Instant;
import java.time.ZoneOffset;
import org.junit.jupiter.api.Test;

/** The whole status from an outcome, with plain objects. */
class StatusBuilderTest {
  static final Instant T0 = Instant.parse("2026-01-01T12:00:00Z");
  final Dom0Node node = Fixtures.node("a", 10 * GI, 0, 8, 3, false, T0, 10);

  static DiskState ready(long capacity) {
    return new DiskState(
        "ns",
        "d",
        "u",
        DiskState.Phase.Ready,
        null,
        null,
        null,
        100,
        capacity,
        4096L * 300,
        "0b1c-uuid",
        "/img/ns/d.img",
        "digest",
        null,
        null);
  }

  static DiskState building(String stage, int percent) {
    return new DiskState(
        "ns",
        "d",
        "u",
        DiskState.Phase.Building,
        stage,
        10L,
        100L,
        percent,
        GI,
        null,
        null,
        "/img/ns/d.img",
        "digest",
        null,
        null);
  }

  VirtualDiskStatus step(VirtualDisk d, Instant at, Outcome o) {
    VirtualDiskStatus s = new StatusBuilder(Clock.fixed(at, ZoneOffset.UTC)).build(d, "a", node, o);
    d.setStatus(s);
    return s;
  }

  @Test
  void howACloneWasCopiedIsShownAndKeptWhileLaterOutcomesSayNothingOfIt() {
    VirtualDisk d = Fixtures.disk("ns", "d", "1Gi");
    d.getMetadata().setGeneration(1L);
    DiskState r = ready(GI);
    DiskState cloned =
        new DiskState(
            r.namespace(),
            r.name(),
            r.uid(),
            r.phase(),
            null,
            null,
            null,
            100,
            r.capacityBytes(),
            r.allocatedBytes(),
            r.filesystemUUID(),
            r.path(),
            r.specDigest(),
            null,
            new DiskState.Cloned("Reflink", 24L << 20));
    VirtualDiskStatus s = step(d, T0, new Outcome.Done(cloned));
    assertThat(s.cloned())
        .isEqualTo(new VirtualDiskStatus.Clone(VirtualDiskStatus.CloneMethod.Reflink, 24L << 20));
    // a later poll of the same image (or an agent before protocol 3) does not erase it
    assertThat(step(d, T0.plusSeconds(10), new Outcome.Done(ready(GI))).cloned())
        .isEqualTo(s.cloned());
  }

  @Test
  void aCloneMethodThisOperatorDoesNotKnowIsLeftOut() {
    assertThat(StatusBuilder.clone(new DiskState.Cloned("Snapshot", 1L))).isNull();
    assertThat(StatusBuilder.clone(new DiskState.Cloned("SparseCopy", 0L)))
        .isEqualTo(new VirtualDiskStatus.Clone(VirtualDiskStatus.CloneMethod.SparseCopy, 0L));
  }

  @Test
  void theXenLinesFollowTheCurrentSpecNotTheAgentsView() {
    // An agent that restarted reports the defaults (it does not keep spec.xen); a user may also
    // change vdev or access without rebuilding. The lines are the path plus the current spec.xen.
    VirtualDisk d =
        Fixtures.disk(
            "ns",
            "d",
            new VirtualDiskSpec(
                null, "1Gi", null, null, null, new Xen("sda1", Xen.Access.ro, null), null, null));
    d.getMetadata().setGeneration(1L);
    VirtualDiskStatus s = step(d, T0, new Outcome.Done(ready(GI)));
    assertThat(s.xen().disk()).isEqualTo("format=raw, vdev=sda1, access=ro, target=/img/ns/d.img");
    assertThat(s.xen().legacyDisk()).isEqualTo("file:/img/ns/d.img,sda1,r");
  }

  @Test
  void buildingShowsProgressThenReadyShowsTheImage() {
    VirtualDisk d = Fixtures.disk("ns", "d", "1Gi");
    d.getMetadata().setGeneration(1L);
    VirtualDiskStatus s = step(d, T0, new Outcome.Working(building("Format", 40)));
    assertThat(s.phase()).isEqualTo(VirtualDiskStatus.Phase.Provisioning);
    assertThat(s.progress()).isEqualTo(new VirtualDiskStatus.Progress("Format", 40, 10L, 100L));
    assertThat(s.capacityBytes()).as("no image yet").isNull();
    assertThat(Conditions.find(s.conditions(), Conditions.READY).get().getReason())
        .isEqualTo(Reasons.PROVISIONING);

    s = step(d, T0.plusSeconds(5), new Outcome.Done(ready(GI)));
    assertThat(s.phase()).isEqualTo(VirtualDiskStatus.Phase.Ready);
    assertThat(s.progress()).isNull();
    assertThat(s.capacityBytes()).isEqualTo(GI);
    assertThat(s.allocated()).isEqualTo("1.2Mi");
    assertThat(s.xen().legacyDisk()).isEqualTo("file:/img/ns/d.img,xvda1,w");
    assertThat(s.loopDevices().summary()).isEqualTo("3/8");
    assertThat(s.loopDevices().devices()).isNull();
    assertThat(s.conditions()).allMatch(c -> Conditions.TRUE.equals(c.getStatus()));
    assertThat(Conditions.find(s.conditions(), Conditions.READY).get().getLastTransitionTime())
        .isEqualTo("2026-01-01T12:00:05Z");
    assertThat(Conditions.find(s.conditions(), Conditions.SCHEDULED).get().getLastTransitionTime())
        .isEqualTo("2026-01-01T12:00:00Z");
  }

  @Test
  void rebuildingAnUnchangedStateGivesAnEqualStatus() {
    VirtualDisk d = Fixtures.disk("ns", "d", "1Gi");
    d.getMetadata().setGeneration(2L);
    VirtualDiskStatus first = step(d, T0, new Outcome.Done(ready(GI)));
    VirtualDiskStatus again = step(d, T0.plusSeconds(60), new Outcome.Done(ready(GI)));
    assertThat(again).isEqualTo(first);
  }

  @Test
  void unreachableNodeKeepsTheImageFactsAndTurnsReadyUnknown() {
    VirtualDisk d = Fixtures.disk("ns", "d", "1Gi");
    d.getMetadata().setGeneration(1L);
    step(d, T0, new Outcome.Done(ready(GI)));
    VirtualDiskStatus s =
        step(
            d, T0.plusSeconds(60), new Outcome.Unreachable(Reasons.NODE_UNREACHABLE, "agent gone"));
    assertThat(s.phase()).isEqualTo(VirtualDiskStatus.Phase.Ready);
    assertThat(s.path()).isEqualTo("/img/ns/d.img");
    assertThat(s.filesystemUUID()).isEqualTo("0b1c-uuid");
    var ready = Conditions.find(s.conditions(), Conditions.READY).get();
    assertThat(ready.getStatus()).isEqualTo(Conditions.UNKNOWN);
    assertThat(ready.getReason()).isEqualTo(Reasons.NODE_UNREACHABLE);
    assertThat(Conditions.isTrue(s.conditions(), Conditions.PROVISIONED)).isTrue();
  }

  @Test
  void invalidSpecFailsWithoutForgettingTheImage() {
    VirtualDisk d = Fixtures.disk("ns", "d", "1Gi");
    d.getMetadata().setGeneration(1L);
    step(d, T0, new Outcome.Done(ready(GI)));
    d.getMetadata().setGeneration(2L);
    VirtualDiskStatus s =
        step(d, T0.plusSeconds(1), new Outcome.Invalid(Reasons.INVALID_SPEC, "never shrink"));
    assertThat(s.phase()).isEqualTo(VirtualDiskStatus.Phase.Failed);
    assertThat(s.observedGeneration()).as("generation 2 is not realised").isEqualTo(1L);
    assertThat(Conditions.find(s.conditions(), Conditions.READY).get().getObservedGeneration())
        .isEqualTo(2L);
    assertThat(s.capacityBytes()).isEqualTo(GI);
    assertThat(Conditions.find(s.conditions(), Conditions.READY).get().getMessage())
        .isEqualTo("never shrink");
  }

  static DiskState resizing(long target) {
    return new DiskState(
        "ns",
        "d",
        "u",
        DiskState.Phase.Resizing,
        "Resize",
        null,
        null,
        50,
        target,
        4096L * 300,
        "0b1c-uuid",
        "/img/ns/d.img",
        "digest",
        null,
        null);
  }

  @Test
  void aRefusedGrowLeavesTheDiskReadyAtItsSizeWithResizedFalseSayingWhy() {
    VirtualDisk d = Fixtures.disk("ns", "d", "1Gi");
    d.getMetadata().setGeneration(1L);
    VirtualDiskStatus built = step(d, T0, new Outcome.Done(ready(GI)));
    assertThat(Conditions.find(built.conditions(), Conditions.RESIZED))
        .as("never grown: no Resized condition")
        .isEmpty();

    d.getMetadata().setGeneration(2L);
    VirtualDiskStatus s =
        step(
            d,
            T0.plusSeconds(5),
            new Outcome.GrowRefused(
                ready(GI),
                Reasons.INSUFFICIENT_STORAGE,
                "growing the image from 1Gi to 10Ti is refused: ..."));
    assertThat(s.phase()).isEqualTo(VirtualDiskStatus.Phase.Ready);
    assertThat(s.capacityBytes()).isEqualTo(GI);
    assertThat(s.conditions())
        .extracting(c -> c.getType() + "=" + c.getStatus() + "/" + c.getReason())
        .containsExactly(
            "Scheduled=True/NodeAssigned",
            "Provisioned=True/Provisioned",
            "Resized=False/InsufficientStorage",
            "LoopDeviceAvailable=True/LoopDeviceFree",
            "Ready=True/Ready");
    var ready = Conditions.find(s.conditions(), Conditions.READY).get();
    assertThat(ready.getMessage())
        .contains("image of 1Gi ready", "not grown to spec.size (see condition Resized)");
    assertThat(ready.getLastTransitionTime())
        .as("Ready never flipped")
        .isEqualTo("2026-01-01T12:00:00Z");
    // generation 2 asks 10Ti, which is not realised: Ready and the status speak for generation 1,
    // Resized=False for generation 2
    assertThat(ready.getObservedGeneration()).isEqualTo(1L);
    assertThat(s.observedGeneration()).isEqualTo(1L);
    assertThat(Conditions.find(s.conditions(), Conditions.RESIZED).get().getObservedGeneration())
        .isEqualTo(2L);
    d.getMetadata().setGeneration(3L); // an xen edit while the grow waits: still not realised
    s =
        step(
            d,
            T0.plusSeconds(7),
            new Outcome.GrowRefused(ready(GI), Reasons.INSUFFICIENT_STORAGE, "refused: ..."));
    assertThat(s.observedGeneration()).isEqualTo(1L);

    s = step(d, T0.plusSeconds(10), new Outcome.Working(resizing(2 * GI)));
    assertThat(s.observedGeneration()).as("the grow is not done yet").isEqualTo(1L);
    assertThat(Conditions.find(s.conditions(), Conditions.READY).get().getObservedGeneration())
        .as("Ready=False speaks for the generation it judged")
        .isEqualTo(3L);
    assertThat(Conditions.find(s.conditions(), Conditions.RESIZED).get().getReason())
        .isEqualTo(Reasons.RESIZING);
    s = step(d, T0.plusSeconds(15), new Outcome.Done(ready(2 * GI)));
    var resized = Conditions.find(s.conditions(), Conditions.RESIZED).get();
    assertThat(resized.getStatus()).isEqualTo(Conditions.TRUE);
    assertThat(resized.getMessage()).contains("2Gi");
    assertThat(s.observedGeneration()).isEqualTo(3L);
    assertThat(Conditions.find(s.conditions(), Conditions.READY).get().getObservedGeneration())
        .isEqualTo(3L);
  }

  @Test
  void aGrowThatFailsAfterItStartedOrAfterTheNodeWasAwayStaysReadyAtTheRealisedGeneration() {
    VirtualDisk d = Fixtures.disk("ns", "d", "1Gi");
    d.getMetadata().setGeneration(1L);
    step(d, T0, new Outcome.Done(ready(GI)));
    d.getMetadata().setGeneration(2L);
    step(d, T0.plusSeconds(5), new Outcome.Working(resizing(2 * GI)));
    step(d, T0.plusSeconds(6), new Outcome.Unreachable(Reasons.NODE_UNREACHABLE, "unreachable"));
    VirtualDiskStatus s =
        step(
            d,
            T0.plusSeconds(10),
            new Outcome.GrowRefused(ready(GI), "ImageInUse", "loop0 holds the image"));
    var r = Conditions.find(s.conditions(), Conditions.READY).get();
    assertThat(r.getStatus()).isEqualTo(Conditions.TRUE);
    assertThat(r.getObservedGeneration()).isEqualTo(1L);
    assertThat(s.observedGeneration()).isEqualTo(1L);
  }

  @Test
  void aRefusedGrowWithNoKnownRealisedGenerationIsNotReady() {
    VirtualDisk d = Fixtures.disk("ns", "d", "1Gi");
    d.getMetadata().setGeneration(2L);
    // an image with no status yet (written by nobody): no generation is known to be realised
    VirtualDiskStatus s =
        step(
            d,
            T0.plusSeconds(10),
            new Outcome.GrowRefused(ready(GI), Reasons.QUOTA_EXCEEDED, "quota of 1Gi reached"));
    var ready = Conditions.find(s.conditions(), Conditions.READY).get();
    assertThat(ready.getStatus()).isEqualTo(Conditions.FALSE);
    assertThat(ready.getReason()).isEqualTo(Reasons.QUOTA_EXCEEDED);
    assertThat(ready.getMessage())
        .isEqualTo(
            "image of 1Gi usable on dom0 node a at /img/ns/d.img, not grown to spec.size: quota of"
                + " 1Gi reached");
    assertThat(ready.getObservedGeneration()).isEqualTo(2L);
    assertThat(s.observedGeneration()).isNull();
    assertThat(s.phase()).isEqualTo(VirtualDiskStatus.Phase.Ready);
  }

  @Test
  void exhaustedLoopDevicesShowAsAFalseCondition() {
    Dom0Node full = Fixtures.node("a", 10 * GI, 0, 8, 8, false, T0, 10);
    VirtualDisk d = Fixtures.disk("ns", "d", "1Gi");
    VirtualDiskStatus s =
        new StatusBuilder(Clock.fixed(T0, ZoneOffset.UTC))
            .build(d, "a", full, new Outcome.Done(ready(GI)));
    var loop = Conditions.find(s.conditions(), Conditions.LOOP_DEVICE_AVAILABLE).get();
    assertThat(loop.getStatus()).isEqualTo(Conditions.FALSE);
    assertThat(loop.getReason()).isEqualTo(Reasons.LOOP_DEVICES_EXHAUSTED);
  }
}
