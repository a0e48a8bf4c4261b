package io.xenvbd.boot;

import io.xenvbd.testing.Exec;
import io.xenvbd.testing.RootCondition;
import java.io.IOException;
import java.io.UncheckedIOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardCopyOption;
import java.time.Duration;
import java.util.ArrayList;
import java.util.Comparator;
import java.util.LinkedHashSet;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.TreeMap;
import java.util.concurrent.TimeUnit;
import java.util.stream.Stream;

/**
 * Debian's cloud kernel and a small initramfs for it, as the boot tests use them. The kernel's .deb
 * is fetched once with {@code apt-get download} into a cache outside the repository ({@code
 * ~/.cache/xenvbd/boot}, or {@code -Dxenvbd.boot.cache}) and unpacked with {@code dpkg-deb -x},
 * never installed. The cloud kernel has ext2/3/4 built in but virtio block and xfs as modules,
 * which the initramfs loads in the order their {@code depends=} fields give; it then finds the root
 * by the {@code root=UUID=} on the kernel command line with busybox's {@code findfs}, as a
 * distribution's initramfs does, mounts it read-only (loading the filesystem modules only when the
 * built-in filesystems cannot: the xfs module takes seconds to load under TCG) and hands over to
 * the image's own {@code /sbin/init}.
 */
record GuestKernel(Path vmlinuz, Path initramfs, String version) {
  /** The meta-package that names the current cloud kernel of this Debian release. */
  static final String META_PACKAGE = "linux-image-cloud-amd64";

  /**
   * Modules the initramfs loads to see the disk; their dependencies come first, found from the
   * modules.
   */
  static final List<String> BLOCK = List.of("virtio_pci", "virtio_blk");

  /** Modules it loads when the root is not ext2/3/4 (built in). */
  static final List<String> FILESYSTEMS = List.of("xfs");

  static final String STATIC_BUSYBOX = "/bin/busybox";

  static final String INIT =
      """
      #!/bin/busybox sh
      # The boot test's initramfs: what a distribution's initramfs does for root=UUID=..., no more.
      /bin/busybox mkdir -p /sbin /usr/bin /usr/sbin
      /bin/busybox --install -s
      fail() { echo "XENVBD-INITRAMFS FAILED: $*"; poweroff -f; }
      mount -t devtmpfs dev /dev
      mount -t proc proc /proc
      mount -t sysfs sys /sys
      load() { for m in $(cat "$1"); do insmod "/lib/modules/$m.ko" || fail "cannot load module $m"; done; }
      load /modules.block
      root=$(sed -n 's/.*root=\\([^ ]*\\).*/\\1/p' /proc/cmdline)
      dev=
      i=0
      while [ $i -lt 100 ]; do dev=$(findfs "$root" 2>/dev/null) && break; i=$((i + 1)); usleep 100000; done
      [ -n "$dev" ] || fail "no block device has $root"
      echo "XENVBD-INITRAMFS found $root at $dev"
      mount -o ro "$dev" /newroot 2>/dev/null || { load /modules.fs; mount -o ro "$dev" /newroot; } || fail "cannot mount $dev"
      [ -x /newroot/sbin/init ] || fail "the image has no executable /sbin/init"
      [ -d /newroot/dev ] || fail "the image has no /dev"
      mount --move /dev /newroot/dev
      umount /proc /sys
      exec switch_root /newroot /sbin/init
      """;

  /**
   * The cached (or freshly downloaded) kernel, unpacked under {@code work}, with an initramfs built
   * for it.
   */
  static GuestKernel prepare(Path work) {
    requireStaticBusybox();
    Path deb = cachedOrDownloaded(cacheDir());
    Path unpacked = work.resolve("kernel");
    Exec.run("dpkg-deb", "-x", deb.toString(), unpacked.toString()).ok();
    Path vmlinuz = only(unpacked.resolve("boot"), "vmlinuz-");
    String version = vmlinuz.getFileName().toString().substring("vmlinuz-".length());
    Path modules = unpacked.resolve("lib/modules").resolve(version);
    return new GuestKernel(vmlinuz, initramfs(work.resolve("initramfs"), modules), version);
  }

  static Path cacheDir() {
    String configured = System.getProperty("xenvbd.boot.cache");
    return configured != null
        ? Path.of(configured)
        : Path.of(System.getProperty("user.home"), ".cache/xenvbd/boot");
  }

  /**
   * The newest kernel .deb in the cache; else the one the meta-package names now, downloaded there.
   */
  static Path cachedOrDownloaded(Path cache) {
    try {
      Files.createDirectories(cache);
      Path cached = newestDeb(cache);
      if (cached != null) return cached;
      String pkg =
          Exec.run("apt-cache", "depends", META_PACKAGE)
              .ok()
              .out()
              .lines()
              .map(String::strip)
              .filter(l -> l.startsWith("Depends: linux-image-"))
              .map(l -> l.substring("Depends: ".length()))
              .findFirst()
              .orElseThrow(
                  () ->
                      RootCondition.missing(
                          "apt-cache names no kernel for "
                              + META_PACKAGE
                              + ": run apt-get update, or put a linux-image-*-cloud-amd64 .deb into "
                              + cache));
      // Download beside the cache and move in when whole: an interrupted download is never taken
      // for a kernel.
      Path partial = Files.createTempDirectory(cache, ".download-");
      try {
        String failure = aptGetDownload(pkg, partial);
        Path deb = newestDeb(partial);
        if (failure != null || deb == null) {
          throw RootCondition.missing(
              "cannot download "
                  + pkg
                  + " ("
                  + failure
                  + "): the boot tests need"
                  + " network once, or a linux-image-*-cloud-amd64 .deb put into "
                  + cache);
        }
        Exec.run("dpkg-deb", "--info", deb.toString()).ok();
        return Files.move(deb, cache.resolve(deb.getFileName()), StandardCopyOption.ATOMIC_MOVE);
      } finally {
        Exec.run("rm", "-rf", partial.toString()).ok();
      }
    } catch (IOException e) {
      throw new UncheckedIOException(e);
    }
  }

  private static Path newestDeb(Path dir) throws IOException {
    try (Stream<Path> s = Files.list(dir)) {
      return s.filter(
              p -> p.getFileName().toString().matches("linux-image-.*-cloud-amd64_.*\\.deb"))
          .max(Comparator.comparingLong(p -> p.toFile().lastModified()))
          .orElse(null);
    }
  }

  /**
   * apt-get download writes into its working directory, which the project's runner does not set.
   * Null: done.
   */
  private static String aptGetDownload(String pkg, Path dir) throws IOException {
    Process p =
        new ProcessBuilder("apt-get", "download", "-q", pkg)
            .directory(dir.toFile())
            .redirectErrorStream(true)
            .redirectOutput(dir.resolve("apt.log").toFile())
            .start();
    try {
      if (!p.waitFor(10, TimeUnit.MINUTES)) {
        p.destroyForcibly().waitFor();
        return "did not finish within 10 minutes";
      }
    } catch (InterruptedException e) {
      p.destroyForcibly();
      Thread.currentThread().interrupt();
      return "interrupted";
    }
    return p.exitValue() == 0 ? null : Files.readString(dir.resolve("apt.log")).strip();
  }

  /**
   * The guest needs busybox itself (initramfs and image alike), so it must not need the host's
   * libc.
   */
  static void requireStaticBusybox() {
    if (!Files.isExecutable(Path.of(STATIC_BUSYBOX))) {
      throw RootCondition.missing("no " + STATIC_BUSYBOX + ": install Debian's busybox-static");
    }
    if (Exec.run(List.of("ldd", STATIC_BUSYBOX), null, Duration.ofSeconds(30)).exit() == 0) {
      throw RootCondition.missing(
          STATIC_BUSYBOX + " is dynamically linked: install Debian's busybox-static");
    }
  }

  private static Path initramfs(Path dir, Path modules) {
    try {
      for (String d : List.of("bin", "dev", "proc", "sys", "newroot", "lib/modules"))
        Files.createDirectories(dir.resolve(d));
      Files.copy(Path.of(STATIC_BUSYBOX), dir.resolve("bin/busybox"));
      Files.writeString(dir.resolve("init"), INIT);
      Exec.run(
              "chmod",
              "0755",
              dir.resolve("init").toString(),
              dir.resolve("bin/busybox").toString())
          .ok();
      Map<String, Path> files = moduleFiles(modules);
      List<String> block = loadOrder(modules, files, BLOCK, List.of());
      List<String> filesystems = loadOrder(modules, files, FILESYSTEMS, block);
      for (String m : block) Files.copy(files.get(m), dir.resolve("lib/modules/" + m + ".ko"));
      for (String m : filesystems)
        Files.copy(files.get(m), dir.resolve("lib/modules/" + m + ".ko"));
      Files.writeString(dir.resolve("modules.block"), String.join("\n", block) + "\n");
      Files.writeString(dir.resolve("modules.fs"), String.join("\n", filesystems) + "\n");

      List<String> names = new ArrayList<>();
      try (Stream<Path> walk = Files.walk(dir)) {
        walk.filter(p -> !p.equals(dir))
            .sorted()
            .forEach(p -> names.add(dir.relativize(p).toString()));
      }
      Path list = Files.write(dir.resolveSibling("initramfs.list"), names, StandardCharsets.UTF_8);
      Path archive = dir.resolveSibling("initramfs.cpio");
      Exec.run(
              List.of(
                  "cpio",
                  "--quiet",
                  "-o",
                  "-H",
                  "newc",
                  "-R",
                  "0:0",
                  "-D",
                  dir.toString(),
                  "-O",
                  archive.toString()),
              Files.readString(list),
              Duration.ofMinutes(2))
          .ok();
      return archive;
    } catch (IOException e) {
      throw new UncheckedIOException(e);
    }
  }

  /**
   * {@code wanted} and what they depend on, dependencies first, less what is {@code loaded}
   * already. The .deb has no modules.dep (depmod writes it at install), so the order comes from
   * each module's own {@code depends=} field; a module the kernel has built in (modules.builtin)
   * needs no loading.
   */
  static List<String> loadOrder(
      Path modules, Map<String, Path> files, List<String> wanted, List<String> loaded)
      throws IOException {
    Set<String> builtin = new LinkedHashSet<>();
    for (String line : Files.readAllLines(modules.resolve("modules.builtin"))) {
      String base = line.substring(line.lastIndexOf('/') + 1).replace(".ko", "");
      builtin.add(base.replace('-', '_'));
    }
    builtin.addAll(loaded);
    Set<String> order = new LinkedHashSet<>();
    for (String m : wanted) visit(m, files, builtin, order, new LinkedHashSet<>());
    return List.copyOf(order);
  }

  private static void visit(
      String m, Map<String, Path> files, Set<String> builtin, Set<String> order, Set<String> path)
      throws IOException {
    if (order.contains(m) || builtin.contains(m)) return;
    if (!path.add(m)) throw new IllegalStateException("module dependency cycle through " + path);
    Path file = files.get(m);
    if (file == null)
      throw new IllegalStateException(
          "the kernel has no module " + m + " and does not build it in");
    for (String dep : depends(file)) visit(dep, files, builtin, order, path);
    order.add(m);
  }

  /** The comma-separated {@code depends=} of a module's .modinfo section. */
  static List<String> depends(Path ko) throws IOException {
    String text = new String(Files.readAllBytes(ko), StandardCharsets.ISO_8859_1);
    int at = text.indexOf("\0depends=");
    if (at < 0) return List.of();
    String value = text.substring(at + "\0depends=".length(), text.indexOf('\0', at + 1));
    return value.isEmpty() ? List.of() : List.of(value.replace('-', '_').split(","));
  }

  private static Map<String, Path> moduleFiles(Path modules) throws IOException {
    Map<String, Path> files = new TreeMap<>();
    try (Stream<Path> walk = Files.walk(modules.resolve("kernel"))) {
      walk.filter(p -> p.getFileName().toString().endsWith(".ko"))
          .forEach(
              p -> files.put(p.getFileName().toString().replace(".ko", "").replace('-', '_'), p));
    }
    return files;
  }

  private static Path only(Path dir, String prefix) {
    try (Stream<Path> s = Files.list(dir)) {
      List<Path> found = s.filter(p -> p.getFileName().toString().startsWith(prefix)).toList();
      if (found.size() != 1)
        throw new IllegalStateException(
            "expected one " + prefix + "* in " + dir + ", found " + found);
      return found.get(0);
    } catch (IOException e) {
      throw new UncheckedIOException(e);
    }
  }
}
