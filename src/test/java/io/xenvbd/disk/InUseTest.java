package io.xenvbd.disk;

import static io.xenvbd.disk.DiskTestSupport.engine;
import static io.xenvbd.disk.DiskTestSupport.request;
import static io.xenvbd.disk.DiskTestSupport.spec;
import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.catchThrowableOfType;

import io.xenvbd.api.Populate;
import io.xenvbd.api.VirtualDiskSpec.Filesystem;
import io.xenvbd.testing.RequiresRoot;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * In use means in use: a process holding the image, a second agent on the root, a second operation
 * on the image.
 */
@RequiresRoot
class InUseTest {
  @TempDir Path tmp;

  /** A process that holds the file open the way QEMU's qdisk backend does: no loop device. */
  static Process holder(Path file) throws IOException {
    Process p =
        new ProcessBuilder(
                "bash", "-c", "exec 3<>\"$0\"; echo open; exec sleep 120", file.toString())
            .redirectErrorStream(true)
            .start();
    p.getInputStream().read(new byte[5]); // "open": the descriptor exists before the test goes on
    awaitCommand(p, "sleep");
    return p;
  }

  /**
   * Returns once {@code p} runs {@code name}: a message names a holder by its command, and a shell
   * that has said "open" may not have executed its next program yet (a fast scan sees it between).
   */
  static void awaitCommand(Process p, String name) {
    Path comm = Path.of("/proc", Long.toString(p.pid()), "comm");
    for (long end = System.nanoTime() + 10_000_000_000L; System.nanoTime() < end; ) {
      try {
        if (Files.readString(comm).strip().equals(name)) return;
      } catch (IOException e) {
        break; // it ended
      }
      Thread.onSpinWait();
    }
    p.destroyForcibly();
    throw new IllegalStateException("process " + p.pid() + " did not become " + name);
  }

  @Test
  void anImageAProcessHoldsOpenIsNeitherGrownNorDeletedNorCloned() throws Exception {
    DiskEngine engine = engine(tmp.resolve("images"));
    ImageInfo info =
        engine.build(request("qdisk", spec("16Mi", Filesystem.ext4)), ProgressListener.NONE);
    long size = Files.size(info.path());
    Process qemu = holder(info.path());
    try {
      DiskException grow =
          catchThrowableOfType(
              () ->
                  engine.grow(
                      request("qdisk", spec("32Mi", Filesystem.ext4)), ProgressListener.NONE),
              DiskException.class);
      assertThat(grow.code()).isEqualTo(ErrorCode.ImageInUse);
      assertThat(grow.getMessage())
          .contains("process " + qemu.pid() + " (sleep) has it open", "stop the guest");
      assertThat(Files.size(info.path())).isEqualTo(size);

      DiskException delete =
          catchThrowableOfType(
              () -> engine.delete("default", "qdisk", "uid-qdisk"), DiskException.class);
      assertThat(delete.code()).isEqualTo(ErrorCode.ImageInUse);
      assertThat(info.path()).exists();

      DiskException clone =
          catchThrowableOfType(
              () ->
                  engine.build(
                      request(
                          "copy",
                          spec(
                              "16Mi",
                              Filesystem.ext4,
                              new Populate(null, null, new Populate.CloneFrom("qdisk"), null, null),
                              null)),
                      ProgressListener.NONE),
              DiskException.class);
      assertThat(clone.code()).isEqualTo(ErrorCode.ImageInUse);
      assertThat(engine.inspect("default", "copy")).isEmpty();
    } finally {
      qemu.destroyForcibly().waitFor(10, TimeUnit.SECONDS);
    }
    engine.delete("default", "qdisk", "uid-qdisk");
    assertThat(info.path()).doesNotExist();
  }

  @Test
  void anImageAProcessHasOnlyMappedIsStillInUse() throws Exception {
    DiskEngine engine = engine(tmp.resolve("mapped"));
    ImageInfo info =
        engine.build(request("mm", spec("16Mi", Filesystem.ext4)), ProgressListener.NONE);
    // Maps the image, closes its descriptor, keeps the mapping: what a backend that mmaps its disk
    // looks like.
    Process mapper =
        new ProcessBuilder(
                "python3",
                "-c",
                "import mmap,os,sys,time\n"
                    + "fd=os.open(sys.argv[1], os.O_RDONLY); m=mmap.mmap(fd, 4096, prot=mmap.PROT_READ); os.close(fd)\n"
                    + "print('mapped', flush=True); time.sleep(120)",
                info.path().toString())
            .redirectErrorStream(true)
            .start();
    try {
      mapper.getInputStream().read(new byte[6]);
      DiskException e =
          catchThrowableOfType(() -> engine.delete("default", "mm", "uid-mm"), DiskException.class);
      assertThat(e.code()).isEqualTo(ErrorCode.ImageInUse);
      assertThat(e.getMessage()).contains("process " + mapper.pid());
      assertThat(info.path()).exists();
    } finally {
      mapper.destroyForcibly().waitFor(10, TimeUnit.SECONDS);
    }
  }

  @Test
  void aSecondAgentOnTheSameImagesRootRefusesToStartBeforeTouchingIt() throws Exception {
    Path root = tmp.resolve("shared");
    DiskEngine first = engine(root);
    first.recover();
    Path leftover = Files.createDirectories(root.resolve("default")).resolve(".x.img.tmp-123");
    Files.writeString(leftover, "a build of the first agent, still running");
    try {
      DiskException e = catchThrowableOfType(() -> engine(root).recover(), DiskException.class);
      assertThat(e.code()).isEqualTo(ErrorCode.ImageInUse);
      assertThat(e.getMessage())
          .contains(
              "in use by another agent (pid " + ProcessHandle.current().pid(),
              "give this one its own --images-root");
      assertThat(leftover).exists(); // the second agent's recovery never ran
    } finally {
      first.close();
    }
    DiskEngine next = engine(root);
    assertThat(next.recover())
        .contains(leftover); // once the first is gone, the next one takes over
    next.close();

    // The lock file says who holds the root, for the admin who finds a refused agent.
    DiskEngine again = engine(root);
    again.recover();
    assertThat(Files.readString(root.resolve(FileLocks.FILE)))
        .startsWith("pid " + ProcessHandle.current().pid());
    again.close();
  }

  @Test
  void anImageLockHeldElsewhereRefusesTheOperationAndTouchesNothing() throws Exception {
    DiskEngine engine = engine(tmp.resolve("locked"));
    ImageInfo info =
        engine.build(request("l", spec("16Mi", Filesystem.ext4)), ProgressListener.NONE);
    Path lockFile = tmp.resolve("locked").resolve(FileLocks.FILE);
    // A second agent process working on the same image holds that image's fcntl lock: take it from
    // another process.
    Process other =
        new ProcessBuilder(
                "python3",
                "-c",
                "import fcntl,sys,time\n"
                    + "f=open(sys.argv[1],'r+'); fcntl.lockf(f, fcntl.LOCK_EX, 1, int(sys.argv[2]), 0); print('locked', flush=True);"
                    + " time.sleep(120)",
                lockFile.toString(),
                Long.toString(FileLocks.offset("default", "l")))
            .redirectErrorStream(true)
            .start();
    try {
      other.getInputStream().read(new byte[6]);
      DiskException e =
          catchThrowableOfType(() -> engine.delete("default", "l", "uid-l"), DiskException.class);
      assertThat(e.code()).isEqualTo(ErrorCode.ImageInUse);
      assertThat(e.getMessage()).contains("another process", "default/l");
      assertThat(info.path()).exists();
    } finally {
      other.destroyForcibly().waitFor(10, TimeUnit.SECONDS);
    }
    engine.delete("default", "l", "uid-l");
    assertThat(info.path()).doesNotExist();
  }
}
