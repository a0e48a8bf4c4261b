package io.xenvbd.reliability;

import static org.assertj.core.api.Assertions.assertThat;

import io.fabric8.kubernetes.api.model.Condition;
import io.fabric8.kubernetes.client.dsl.base.PatchContext;
import io.fabric8.kubernetes.client.dsl.base.PatchType;
import io.xenvbd.api.Conditions;
import io.xenvbd.api.Dom0Node;
import io.xenvbd.api.VirtualDisk;
import io.xenvbd.testing.Exec;
import io.xenvbd.testing.Host;
import io.xenvbd.testing.Manifests;
import io.xenvbd.testing.RequiresRoot;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.attribute.BasicFileAttributes;
import java.time.Duration;
import java.util.List;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * The images root runs out of space in the middle of a build (a 64 MiB ext4 filesystem mounted as
 * the root, most of it taken by a filler file): the disk says so in words, nothing half-built
 * stays, the disk already on the node is untouched, and the build succeeds once the admin frees
 * space.
 */
@RequiresRoot
class ImagesRootFullTest {
  @TempDir Path tmp;

  @Test
  void aFullImagesRootFailsClearlyLeavesNothingAndRecoversWhenSpaceIsFreed() throws Exception {
    Path source = SourceTree.make(tmp.resolve("tree"), 16, 1 << 20);
    try (SmallFilesystem small = new SmallFilesystem(tmp, "64M")) {
      Rig rig = new Rig(tmp.resolve("rig"));
      Path root = small.mountPoint.resolve("images");
      try {
        rig.agent("node-f", root, List.of(source));
        rig.startOperator();
        rig.apply(
            Manifests.disk(
                "kept", "32Mi", "nodeName: node-f\nfilesystem: ext2\ntailor: {hostname: kept}"));
        VirtualDisk kept = rig.awaitReady("kept", Duration.ofSeconds(60));
        Path keptImage = Path.of(kept.getStatus().path());
        String keptIdentity = identity(keptImage);

        Path filler = small.mountPoint.resolve("filler");
        Exec.run("fallocate", "-l", "40M", filler.toString()).ok();
        // The admin overcommits this node, so placement admits the disk and the agent meets the
        // full root.
        rig.client
            .resources(Dom0Node.class)
            .withName("node-f")
            .patch(PatchContext.of(PatchType.JSON_MERGE), "{\"spec\":{\"overcommitRatio\":100}}");
        rig.apply(
            Manifests.disk(
                "big",
                "256Mi",
                "nodeName: node-f\npopulate: {hostPaths: [{path: %s, target: /srv}]}"
                    .formatted(source)));
        VirtualDisk failed =
            rig.awaitCondition(
                "big",
                Conditions.READY,
                Conditions.FALSE,
                "ProvisioningFailed",
                Duration.ofSeconds(60));
        Condition ready = Rig.condition(failed, Conditions.READY);
        assertThat(ready.getMessage())
            .as("what the user reads")
            .startsWith("NoSpace:")
            .contains("space");
        assertThat(failed.getStatus().phase().name()).isEqualTo("Failed");
        assertThat(Host.images(root)).as("nothing half-built").containsExactly("default/kept.img");
        assertThat(Host.leftovers(root)).isEmpty();
        assertThat(Host.loopsUnder(root)).isEmpty();
        assertThat(Host.mountsUnder(root)).isEmpty();
        assertThat(identity(keptImage)).as("the other disk").isEqualTo(keptIdentity);
        Host.assertFsckClean(keptImage);
        assertThat(Rig.condition(rig.get("kept"), Conditions.READY).getStatus())
            .isEqualTo(Conditions.TRUE);
        System.out.println(
            "[reliability] images root full: " + ready.getReason() + ": " + ready.getMessage());

        Files.delete(filler); // the admin frees space
        VirtualDisk big = rig.awaitReady("big", Duration.ofSeconds(90));
        Host.assertFsckClean(Path.of(big.getStatus().path()));
        assertThat(SourceTree.dump(Path.of(big.getStatus().path()), "/srv/data/blob-15", tmp))
            .isEqualTo(Files.readAllBytes(source.resolve("data/blob-15")));
        assertThat(Host.leftovers(root)).isEmpty();
      } finally {
        rig.close();
        Host.releaseAll(small.mountPoint);
      }
    }
  }

  static String identity(Path image) throws Exception {
    BasicFileAttributes a = Files.readAttributes(image, BasicFileAttributes.class);
    return a.fileKey() + " " + a.size() + " " + a.lastModifiedTime();
  }
}
