package io.xenvbd.disk;

import static io.xenvbd.disk.DiskTestSupport.*;
import static org.assertj.core.api.Assertions.assertThat;

import io.xenvbd.api.VirtualDiskSpec.Filesystem;
import io.xenvbd.testing.RequiresRoot;
import java.nio.file.Files;
import java.nio.file.Path;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.EnumSource;

@RequiresRoot
class FilesystemsTest {
  @TempDir static Path tmp;

  @AfterAll
  static void nothingLeftAttached() {
    assertNothingAttachedUnder(tmp);
  }

  @ParameterizedTest
  @EnumSource(
      value = Filesystem.class,
      names = {"ext2", "ext3", "ext4"})
  void eachExtFilesystemBuildsCleanWithItsUuid(Filesystem fs) {
    Path root = tmp.resolve("ext-" + fs);
    ImageInfo info =
        engine(root).build(request("d-" + fs, spec("64Mi", fs)), ProgressListener.NONE);

    assertThat(info.path()).isEqualTo(root.resolve("default/d-" + fs + ".img"));
    assertThat(info.capacityBytes()).isEqualTo(64L << 20);
    assertThat(RUN.run("e2fsck", "-f", "-n", info.path().toString()).exitCode()).isZero();
    assertThat(
            RUN.run("blkid", "-p", "-o", "value", "-s", "TYPE", info.path().toString())
                .stdout()
                .strip())
        .isEqualTo(fs.name());
    assertThat(
            RUN.run("blkid", "-p", "-o", "value", "-s", "UUID", info.path().toString())
                .stdout()
                .strip())
        .isEqualTo(info.filesystemUuid())
        .isNotBlank();
    assertThat(nonImageEntries(root)).isEmpty();
  }

  @Test
  void xfsBuildsCleanWithItsUuid() {
    Path root = tmp.resolve("xfs");
    ImageInfo info =
        engine(root).build(request("x", spec("320Mi", Filesystem.xfs)), ProgressListener.NONE);

    assertThat(RUN.run("xfs_repair", "-n", info.path().toString()).exitCode()).isZero();
    assertThat(
            RUN.run("blkid", "-p", "-o", "value", "-s", "TYPE", info.path().toString())
                .stdout()
                .strip())
        .isEqualTo("xfs");
    assertThat(
            RUN.run("blkid", "-p", "-o", "value", "-s", "UUID", info.path().toString())
                .stdout()
                .strip())
        .isEqualTo(info.filesystemUuid());
    // mkfs.xfs (6.x) insists on a log of at least 64 MiB and writes it; the rest stays sparse.
    assertThat(info.allocatedBytes()).isLessThanOrEqualTo(70L << 20);
  }

  @Test
  void a2GiBRawImageAllocatesAtMost4KiB() throws Exception {
    Path root = tmp.resolve("raw");
    ImageInfo info =
        engine(root).build(request("raw", spec("2Gi", Filesystem.none)), ProgressListener.NONE);

    assertThat(Files.size(info.path())).isEqualTo(2L << 30);
    assertThat(allocated(info.path())).isLessThanOrEqualTo(4096);
    assertThat(info.filesystemUuid()).isNull();
  }

  @Test
  void a2GiBExt4ImageAllocatesAtMost2MiB() throws Exception {
    Path root = tmp.resolve("sparse-ext4");
    ImageInfo info =
        engine(root).build(request("big", spec("2Gi", Filesystem.ext4)), ProgressListener.NONE);

    assertThat(Files.size(info.path())).isEqualTo(2L << 30);
    assertThat(allocated(info.path())).isLessThanOrEqualTo(2L << 20);
    assertThat(info.allocatedBytes()).isEqualTo(allocated(info.path()));
  }

  @Test
  void a2GiBExt3ImageStaysSparseWithItsSmallJournal() {
    Path root = tmp.resolve("sparse-ext3");
    ImageInfo info =
        engine(root).build(request("big3", spec("2Gi", Filesystem.ext3)), ProgressListener.NONE);

    assertThat(allocated(info.path())).isLessThanOrEqualTo(8L << 20);
  }

  @Test
  void preallocateAllocatesEveryBlock() throws Exception {
    Path root = tmp.resolve("prealloc");
    ImageInfo info =
        engine(root)
            .build(request("full", preallocated("64Mi", Filesystem.ext4)), ProgressListener.NONE);

    assertThat(allocated(info.path())).isGreaterThanOrEqualTo(64L << 20);
    assertThat(RUN.run("e2fsck", "-f", "-n", info.path().toString()).exitCode()).isZero();
  }
}
