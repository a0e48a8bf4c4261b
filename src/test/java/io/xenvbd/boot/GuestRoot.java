package io.xenvbd.boot;

import io.xenvbd.testing.Exec;
import java.io.IOException;
import java.io.UncheckedIOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;

/**
 * The root tree the boot tests put into images: Debian's static busybox as {@code /bin/busybox}, a
 * link in {@code /bin} for each of its applets, and {@code /sbin/init}, a script that runs as the
 * guest's PID 1 from the image itself. Static, so the image is a root filesystem on its own (no
 * libc from dom0 needed); {@code /etc/hostname} and {@code /etc/fstab} are not here: the product
 * tailors them. The init prints {@code XENVBD-GUEST} lines on the console for the test to check,
 * then powers off:
 *
 * <ol>
 *   <li>{@code fstab-root DEVICE TYPE OPTIONS at RESOLVED}: the fstab's line for {@code /} and the
 *       block device its {@code UUID=} names;
 *   <li>{@code root-mount DEVICE TYPE OPTIONS}: {@code /} from /proc/mounts after remounting it
 *       read-write with the fstab's options;
 *   <li>{@code hostname NAME}: the hostname set from /etc/hostname;
 *   <li>{@code root-size BLOCKS BLOCKSIZE}: the root filesystem's size as the guest sees it;
 *   <li>{@code wrote /root/booted-by-guest}, holding the boot's marker and hostname;
 *   <li>{@code done MARKER}: every step ran, root is read-only again (clean), the marker is this
 *       boot's.
 * </ol>
 */
final class GuestRoot {
  static final String WRITTEN = "/root/booted-by-guest";

  static final String INIT =
      """
      #!/bin/sh
      # PID 1 of a guest booted from this image, from the image itself: checks, reports, powers off.
      export PATH=/bin:/sbin
      say() { echo "XENVBD-GUEST $*"; }
      mount -t proc proc /proc
      marker=$(sed -n 's/.*xenvbd.marker=\\([^ ]*\\).*/\\1/p' /proc/cmdline)
      set -- $(awk '$2 == "/" { print $1, $3, $4; exit }' /etc/fstab)
      say "fstab-root $1 $2 $3 at $(findfs "$1")"
      mount -o "remount,rw,$3" / || say "remount failed"
      say "root-mount $(awk '$2 == "/" { print $1, $3, $4 }' /proc/mounts)"
      hostname -F /etc/hostname
      say "hostname $(hostname)"
      say "root-size $(stat -f -c '%b %S' /)"
      echo "$marker $(hostname)" > WRITTEN && sync && say "wrote WRITTEN"
      mount -o remount,ro /
      say "done $marker"
      poweroff -f
      """
          .replace("WRITTEN", WRITTEN);

  private GuestRoot() {}

  /** Writes the tree at {@code dir} (which must not exist yet). */
  static Path tree(Path dir) {
    try {
      for (String d : List.of("bin", "sbin", "etc", "root"))
        Files.createDirectories(dir.resolve(d));
      Files.copy(Path.of(GuestKernel.STATIC_BUSYBOX), dir.resolve("bin/busybox"));
      for (String applet : Exec.run(GuestKernel.STATIC_BUSYBOX, "--list").ok().out().split("\n")) {
        if (applet.isBlank() || List.of("busybox", "init", "linuxrc").contains(applet)) continue;
        Files.createSymbolicLink(dir.resolve("bin").resolve(applet), Path.of("busybox"));
      }
      Files.writeString(dir.resolve("sbin/init"), INIT);
      Exec.run(
              "chmod",
              "0755",
              dir.resolve("sbin/init").toString(),
              dir.resolve("bin/busybox").toString())
          .ok();
      Exec.run("chmod", "0700", dir.resolve("root").toString()).ok();
      return dir;
    } catch (IOException e) {
      throw new UncheckedIOException(e);
    }
  }

  /** The same tree as a tar archive at {@code archive}, for populate.archive. */
  static Path archive(Path tree, Path archive) {
    Exec.run(
            "tar",
            "--numeric-owner",
            "-cf",
            archive.toString(),
            "-C",
            tree.toString(),
            "bin",
            "sbin",
            "etc",
            "root")
        .ok();
    return archive;
  }
}
