package io.xenvbd.disk;

import static io.xenvbd.disk.DiskTestSupport.*;
import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.catchThrowableOfType;

import io.xenvbd.api.Populate;
import io.xenvbd.api.VirtualDiskSpec.Filesystem;
import io.xenvbd.testing.RequiresRoot;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.Collections;
import java.util.List;
import java.util.Random;
import java.util.concurrent.atomic.AtomicBoolean;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * A full images root gives NoSpace and leaves nothing; with no loop device free, Offline still
 * works.
 */
@RequiresRoot
class ResourceLimitsTest {
  @TempDir static Path tmp;

  @AfterAll
  static void nothingLeftAttached() {
    assertNothingAttachedUnder(tmp);
  }

  /** A 20 MiB ext4 filesystem, loop-mounted, as the images root. */
  static Path smallRoot(String name) {
    Path fsImage = tmp.resolve(name + ".fs");
    Path mnt = tmp.resolve(name);
    RUN.run("truncate", "-s", "20M", fsImage.toString());
    RUN.run("mke2fs", "-q", "-t", "ext4", "-m", "0", fsImage.toString());
    RUN.run("mkdir", "-p", mnt.toString());
    RUN.run("mount", "-o", "loop", fsImage.toString(), mnt.toString());
    return mnt;
  }

  static void unmount(Path mnt) {
    RUN.exec(List.of("umount", mnt.toString()), Duration.ofMinutes(1), null);
  }

  @Test
  void aPreallocatedDiskLargerThanTheRootGivesNoSpaceAndLeavesNothing() {
    Path mnt = smallRoot("full-prealloc");
    try {
      Path root = mnt.resolve("images");
      DiskEngine engine = engine(root);
      DiskException e =
          catchThrowableOfType(
              () ->
                  engine.build(
                      request("big", preallocated("64Mi", Filesystem.ext4)), ProgressListener.NONE),
              DiskException.class);
      assertThat(e.code()).isEqualTo(ErrorCode.NoSpace);
      assertThat(e.getMessage()).contains("free space");
      assertThat(nonImageEntries(root)).isEmpty();
      assertThat(engine.inventory().images()).isEmpty();
    } finally {
      unmount(mnt);
    }
  }

  @Test
  void contentThatDoesNotFitOnTheRootGivesNoSpaceAndLeavesNothing() throws IOException {
    Path allowed = tmp.resolve("allowed");
    Path src = Files.createDirectories(allowed.resolve("data"));
    byte[] block = new byte[1 << 20];
    Random r = new Random(7);
    for (int i = 0; i < 30; i++) {
      r.nextBytes(block);
      Files.write(src.resolve("f" + i), block);
    }
    Path mnt = smallRoot("full-populate");
    try {
      Path root = mnt.resolve("images");
      DiskEngine engine = engine(root, allowed);
      for (Populate.Method m : List.of(Populate.Method.Offline, Populate.Method.LoopMount)) {
        Populate p =
            new Populate(
                List.of(new Populate.HostPath(src.toString(), "/data")), null, null, null, m);
        DiskException e =
            catchThrowableOfType(
                () ->
                    engine.build(
                        request(
                            "full-" + m.name().toLowerCase(),
                            spec("64Mi", Filesystem.ext4, p, null)),
                        ProgressListener.NONE),
                DiskException.class);
        assertThat(e.code()).as(m + ": " + e.getMessage()).isEqualTo(ErrorCode.NoSpace);
        assertThat(nonImageEntries(root)).isEmpty();
        assertThat(engine.inventory().images()).isEmpty();
        assertNothingAttachedUnder(root);
      }
    } finally {
      unmount(mnt);
    }
  }

  @Test
  void contentLargerThanTheDiskItselfGivesNoSpaceSayingToRaiseTheSize() throws IOException {
    Path allowed = tmp.resolve("allowed2");
    Path src = Files.createDirectories(allowed.resolve("data"));
    byte[] block = new byte[1 << 20];
    new Random(8).nextBytes(block);
    for (int i = 0; i < 12; i++) Files.write(src.resolve("f" + i), block);
    Path root = tmp.resolve("too-small");
    Populate p =
        new Populate(
            List.of(new Populate.HostPath(src.toString(), "/data")),
            null,
            null,
            null,
            Populate.Method.Offline);
    DiskException e =
        catchThrowableOfType(
            () ->
                engine(root, allowed)
                    .build(
                        request("tiny", spec("8Mi", Filesystem.ext4, p, null)),
                        ProgressListener.NONE),
            DiskException.class);
    assertThat(e.code()).isEqualTo(ErrorCode.NoSpace);
    assertThat(e.getMessage()).contains("spec.size");
    assertThat(nonImageEntries(root)).isEmpty();
  }

  @Test
  void withEveryLoopDeviceTakenLoopMountIsExhaustedWhileOfflineStillBuilds() throws IOException {
    Path root = tmp.resolve("loops");
    Path allowed = Files.createDirectories(tmp.resolve("allowed3/etc"));
    Files.writeString(allowed.resolve("issue"), "hello\n");
    Populate.Method[] methods = {Populate.Method.LoopMount, Populate.Method.Offline};
    List<String> held = Collections.synchronizedList(new ArrayList<>());
    AtomicBoolean holding = new AtomicBoolean(true);
    // Other test runs share the devices and may free one at any moment: a holder keeps taking every
    // device that becomes free until the builds are done (a few seconds), then all are released.
    Thread holder =
        new Thread(
            () -> {
              int i = 0;
              while (holding.get() && i < 64) {
                if (new LoopDeviceTable().status().hasFree()) {
                  Path f = tmp.resolve("hold-" + i++);
                  RUN.exec(
                      List.of("truncate", "-s", "1M", f.toString()), Duration.ofMinutes(1), null);
                  CommandRunner.Result r =
                      RUN.exec(
                          List.of("losetup", "--find", "--show", f.toString()),
                          Duration.ofMinutes(1),
                          null);
                  if (r.ok()) held.add(r.stdout().strip());
                } else {
                  try {
                    Thread.sleep(10);
                  } catch (InterruptedException e) {
                    return;
                  }
                }
              }
            });
    try {
      holder.start();
      long until = System.currentTimeMillis() + 10_000;
      while (new LoopDeviceTable().status().hasFree() && System.currentTimeMillis() < until) {
        try {
          Thread.sleep(20);
        } catch (InterruptedException e) {
          throw new IllegalStateException(e);
        }
      }
      assertThat(new LoopDeviceTable().status().hasFree()).isFalse();
      DiskEngine engine = engine(root, allowed.getParent());
      List<DiskException> errors = new ArrayList<>();
      List<ImageInfo> built = new ArrayList<>();
      for (Populate.Method m : methods) {
        Populate p =
            new Populate(
                List.of(new Populate.HostPath(allowed.toString(), "/etc")), null, null, null, m);
        try {
          built.add(
              engine.build(
                  request("d-" + m.name().toLowerCase(), spec("32Mi", Filesystem.ext4, p, null)),
                  ProgressListener.NONE));
        } catch (DiskException e) {
          errors.add(e);
        }
      }
      assertThat(errors).hasSize(1);
      assertThat(errors.get(0).code()).isEqualTo(ErrorCode.LoopDevicesExhausted);
      assertThat(errors.get(0).getMessage()).contains("Offline");
      assertThat(built).extracting(ImageInfo::name).containsExactly("d-offline");
      assertThat(nonImageEntries(root)).isEmpty();
    } finally {
      holding.set(false);
      try {
        holder.join(30_000);
      } catch (InterruptedException e) {
        Thread.currentThread().interrupt();
      }
      for (String dev : List.copyOf(held))
        RUN.exec(List.of("losetup", "-d", dev), Duration.ofMinutes(1), null);
    }
    assertThat(engine(root).loopStatus().inUse())
        .noneMatch(d -> d.backingFile().startsWith(tmp.toString()));
  }
}
