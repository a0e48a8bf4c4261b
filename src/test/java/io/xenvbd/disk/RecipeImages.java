package io.xenvbd.disk;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;

/**
 * Images made the way an admin makes them by hand, with the manual recipe's own commands (dd, mkfs
 * -t ext3, mount -o loop, cp -ax, mkdir, umount), at 16 MiB instead of 2 GiB: what adoption takes
 * over.
 */
public final class RecipeImages {
  private static final CommandRunner RUN = new CommandRunner(Duration.ofMinutes(5));

  private RecipeImages() {}

  /**
   * {@code img} of 16 MiB + 1 KiB (dd bs=1k seek=16k count=1, as the recipe's seek=2048k), holding
   * {@code tree}.
   */
  public static void make(Path img, Path tree) throws IOException {
    Path mnt =
        Files.createTempDirectory(img.toAbsolutePath().getParent().getParent(), "recipe-mnt-");
    RUN.run("dd", "if=/dev/zero", "of=" + img, "bs=1k", "seek=16k", "count=1", "status=none");
    RUN.run("mkfs", "-t", "ext3", "-F", "-q", img.toString());
    RUN.run("mount", "-o", "loop", img.toString(), mnt.toString());
    try {
      RUN.run("cp", "-ax", tree + "/.", mnt + "/");
      RUN.run("mkdir", "-p", mnt + "/proc", mnt + "/sys", mnt + "/home", mnt + "/tmp");
    } finally {
      RUN.run("umount", mnt.toString()); // "this is important!"
      Files.delete(mnt);
    }
  }

  /** A command's standard output; a failure throws with its stderr. */
  public static String run(String... command) {
    return RUN.run(command).stdout();
  }
}
