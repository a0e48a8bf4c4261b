package io.xenvbd.disk;

import static io.xenvbd.disk.DiskTestSupport.RUN;
import static io.xenvbd.disk.DiskTestSupport.engine;
import static io.xenvbd.disk.DiskTestSupport.request;
import static io.xenvbd.disk.DiskTestSupport.spec;
import static org.assertj.core.api.Assertions.assertThat;

import io.xenvbd.api.VirtualDiskSpec.Filesystem;
import io.xenvbd.testing.RequiresRoot;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.List;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** "Grown" is what the filesystem and the metadata say, not how long the file is. */
@RequiresRoot
class FailedGrowTest {
  @TempDir Path tmp;

  @Test
  void aGrowCutShortAfterTheFileWasExtendedIsReportedAtTheOldSizeAndTheNextGrowFinishesIt()
      throws Exception {
    DiskEngine engine = engine(tmp.resolve("images"));
    ImageInfo built =
        engine.build(request("g", spec("32Mi", Filesystem.ext4)), ProgressListener.NONE);
    // What a grow leaves when it dies after extending the file (agent killed, e2fsck refused, no
    // loop device for xfs):
    RUN.run("truncate", "-s", "64M", built.path().toString());

    ImageInfo seen = engine.inspect("default", "g").orElseThrow();
    assertThat(seen.capacityBytes()).as("reported capacity").isEqualTo(32L << 20);
    assertThat(Files.size(built.path())).isEqualTo(64L << 20);

    ImageInfo grown =
        engine.grow(request("g", spec("64Mi", Filesystem.ext4)), ProgressListener.NONE);
    assertThat(grown.capacityBytes()).isEqualTo(64L << 20);
    assertThat(new Formatter(RUN).ext2Bytes(built.path())).isEqualTo(64L << 20);
    assertThat(
            RUN.exec(
                    List.of("e2fsck", "-f", "-n", built.path().toString()),
                    Duration.ofMinutes(1),
                    null)
                .exitCode())
        .isZero();
  }
}
