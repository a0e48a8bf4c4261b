package io.xenvbd.reliability;

import io.xenvbd.testing.Exec;
import io.xenvbd.testing.Host;
import java.nio.file.Files;
import java.nio.file.Path;

/** A small ext4 filesystem in a file, loop-mounted: an images root that can really fill up. */
final class SmallFilesystem implements AutoCloseable {
  final Path file;
  final Path mountPoint;

  SmallFilesystem(Path dir, String size) throws Exception {
    file = dir.resolve("small-root.fs");
    mountPoint = Files.createDirectories(dir.resolve("small-root"));
    Exec.run("truncate", "-s", size, file.toString()).ok();
    Exec.run("mkfs.ext4", "-q", "-F", "-m", "0", file.toString()).ok();
    Exec.run("mount", "-o", "loop", file.toString(), mountPoint.toString())
        .ok(); // autoclear: umount frees the loop
  }

  @Override
  public void close() {
    Exec.run("umount", mountPoint.toString());
    for (String l : Host.loopsUnder(file.getParent())) {
      if (l.endsWith(file.toString())) Exec.run("losetup", "-d", l.substring(0, l.indexOf(' ')));
    }
  }
}
