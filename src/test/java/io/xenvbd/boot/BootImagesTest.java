package io.xenvbd.boot;

import static org.assertj.core.api.Assertions.assertThat;

import io.fabric8.kubernetes.client.Config;
import io.fabric8.kubernetes.client.KubernetesClient;
import io.fabric8.kubernetes.client.KubernetesClientBuilder;
import io.fabric8.kubernetes.client.dsl.base.PatchContext;
import io.fabric8.kubernetes.client.dsl.base.PatchType;
import io.xenvbd.api.VirtualDisk;
import io.xenvbd.api.VirtualDiskSpec.Filesystem;
import io.xenvbd.api.VirtualDiskStatus;
import io.xenvbd.disk.UrlPolicy;
import io.xenvbd.local.LocalConfig;
import io.xenvbd.local.LocalMode;
import io.xenvbd.testing.Exec;
import io.xenvbd.testing.Manifests;
import io.xenvbd.testing.RequiresRoot;
import java.io.IOException;
import java.io.UncheckedIOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.security.SecureRandom;
import java.time.Duration;
import java.util.HexFormat;
import java.util.List;
import java.util.Map;
import java.util.UUID;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.ExecutionException;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.Semaphore;
import java.util.concurrent.TimeUnit;
import java.util.stream.Stream;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.MethodSource;

/**
 * Images the product made boot as the root filesystem of a real Linux guest (Debian's cloud kernel
 * under QEMU, see {@link GuestKernel}): for every filesystem the API offers, disks populated with
 * the Offline and LoopMount methods, from an archive, cloned (populate.cloneFrom) and grown. Each
 * is made the way a user makes it, through local mode (embedded API, operator, agent); the guest is
 * given {@code root=UUID=} with the UUID that the disk's status reports, finds its root by it, runs
 * the image's own /sbin/init ({@link GuestRoot}), remounts root read-write as the image's fstab
 * says, and shows the tailored hostname; what it wrote is read back from the booted (sparse) copy
 * afterwards. Images are built all at once and booted two at a time.
 */
@RequiresRoot(
    tools = {
      "qemu-system-x86_64:qemu-system-x86",
      "busybox:busybox-static",
      "cpio:cpio",
      "dpkg-deb:dpkg",
      "apt-get:apt",
      "xfs_db:xfsprogs",
      "debugfs:e2fsprogs"
    })
class BootImagesTest {
  static final Duration BOOT_TIMEOUT = Duration.ofMinutes(3);
  static final Duration READY_TIMEOUT = Duration.ofMinutes(5);

  @TempDir static Path tmp;
  static GuestKernel kernel;
  static LocalMode local;
  static KubernetesClient kube;
  static Path tree;
  static Path archive;
  static ExecutorService pool;
  static final Semaphore TWO_GUESTS = new Semaphore(2);
  static final Map<Case, CompletableFuture<Outcome>> OUTCOMES = new ConcurrentHashMap<>();
  static CompletableFuture<Qemu.Boot> wrongUuid;

  enum Kind {
    Offline,
    LoopMount,
    Archive,
    Clone,
    Grown,
    /**
     * Made by the manual recipe's own commands, then adopted through the agent's import directory.
     */
    Adopted
  }

  record Case(Filesystem fs, Kind kind) {
    String name() {
      return "boot-" + fs + "-" + kind.name().toLowerCase();
    }

    boolean ext() {
      return fs.name().startsWith("ext");
    }

    /** Apparent size when built: small, and xfs's least (mkfs.xfs refuses less than 300 MB). */
    String size() {
      return ext() ? "32Mi" : "320Mi";
    }

    String grownSize() {
      return ext() ? "64Mi" : "512Mi";
    }

    /**
     * Options the fstab gives root; noatime shows in /proc/mounts only if the guest mounted by the
     * fstab.
     */
    String rootOptions() {
      return ext() ? "noatime,errors=remount-ro" : "noatime";
    }

    @Override
    public String toString() {
      return name();
    }
  }

  /**
   * Every filesystem of the API (none is raw, nothing to boot); Offline is mke2fs -d, ext2/3/4
   * only.
   */
  static Stream<Case> cases() {
    return Stream.of(Filesystem.values())
        .filter(fs -> fs != Filesystem.none)
        .flatMap(fs -> Stream.of(Kind.values()).map(k -> new Case(fs, k)))
        .filter(c -> c.kind() != Kind.Offline || c.ext())
        // the recipe's filesystem: one adopted image proves adoption keeps a hand-made image
        // bootable
        .filter(c -> c.kind() != Kind.Adopted || c.fs() == Filesystem.ext3);
  }

  record Outcome(
      Case c,
      VirtualDiskStatus status,
      long builtCapacity,
      String sourceUuid,
      String marker,
      Qemu.Boot boot,
      String written,
      String fsckProblems) {
    String describe() {
      return c
          + " (UUID "
          + status.filesystemUUID()
          + ", "
          + status.path()
          + "): "
          + boot.describe();
    }

    /** The one console line after {@code prefix}. */
    String line(String prefix) {
      List<String> l = boot.lines(prefix);
      return l.size() == 1 ? l.get(0) : "(" + l.size() + " lines start with '" + prefix + "')";
    }
  }

  @BeforeAll
  static void buildEveryImageAndBootIt() throws Exception {
    kernel = GuestKernel.prepare(tmp);
    Path sources = Files.createDirectories(tmp.resolve("sources"));
    tree = GuestRoot.tree(sources.resolve("guest-root"));
    archive = GuestRoot.archive(tree, sources.resolve("guest-root.tar"));
    Files.createDirectories(tmp.resolve("boots"));
    local =
        LocalMode.start(
            new LocalConfig(
                tmp.resolve("state"),
                List.of(sources),
                0,
                "boot-node",
                UrlPolicy.none(),
                Files.createDirectories(tmp.resolve("imports"))));
    kube =
        new KubernetesClientBuilder()
            .withConfig(Config.fromKubeconfig(Files.readString(local.config().kubeconfig())))
            .build();
    pool = Executors.newCachedThreadPool();
    cases()
        .forEach(c -> OUTCOMES.put(c, CompletableFuture.supplyAsync(() -> buildAndBoot(c), pool)));
    wrongUuid = CompletableFuture.supplyAsync(BootImagesTest::bootWithAUuidNoDiskHas, pool);
  }

  @AfterAll
  static void stop() {
    if (pool != null) pool.shutdownNow();
    if (kube != null) kube.close();
    if (local != null) local.close();
  }

  @ParameterizedTest(name = "{0}")
  @MethodSource("cases")
  void bootsAsTheRootOfALinuxGuestFoundByItsStatusUuid(Case c) throws Exception {
    Outcome o = outcome(c);
    String uuid = o.status().filesystemUUID();
    String fs = c.fs().name();
    assertThat(o.boot().finished() && o.boot().exitCode() == 0)
        .as("the guest powered off: %s", o.describe())
        .isTrue();
    assertThat(o.line("XENVBD-INITRAMFS found "))
        .as("root found by the status UUID: %s", o.describe())
        .isEqualTo("UUID=" + uuid + " at /dev/vda");
    assertThat(o.line("XENVBD-GUEST fstab-root "))
        .as("the image's fstab names its root by that UUID: %s", o.describe())
        .isEqualTo("UUID=" + uuid + " " + fs + " " + c.rootOptions() + " at /dev/vda");
    assertThat(o.line("XENVBD-GUEST root-mount "))
        .as("root remounted read-write with the fstab's options: %s", o.describe())
        .startsWith("/dev/vda " + fs + " rw,")
        .contains("noatime");
    assertThat(o.line("XENVBD-GUEST hostname "))
        .as("the tailored hostname: %s", o.describe())
        .isEqualTo(c.name());
    assertThat(o.line("XENVBD-GUEST done "))
        .as("every step of the image's init ran: %s", o.describe())
        .isEqualTo(o.marker());
    assertThat(o.written())
        .as("what the guest wrote is in the booted copy: %s", o.describe())
        .isEqualTo(o.marker() + " " + c.name() + "\n");
    assertThat(o.fsckProblems()).as("the guest left its root clean").isNull();

    if (c.kind() == Kind.Clone) {
      assertThat(uuid).as("a clone has its own filesystem UUID").isNotEqualTo(o.sourceUuid());
    }
    if (c.kind() == Kind.Adopted) {
      assertThat(uuid)
          .as("adoption keeps the image's own filesystem UUID")
          .isEqualTo(o.sourceUuid());
    }
    if (c.kind() == Kind.Grown) {
      String[] size = o.line("XENVBD-GUEST root-size ").split(" ");
      long seen = Long.parseLong(size[0]) * Long.parseLong(size[1]);
      assertThat(o.status().capacityBytes()).isGreaterThan(o.builtCapacity());
      assertThat(seen)
          .as(
              "the guest sees the grown filesystem (%d bytes before): %s",
              o.builtCapacity(), o.describe())
          .isGreaterThan(o.builtCapacity())
          .isLessThanOrEqualTo(o.status().capacityBytes());
    }
  }

  /**
   * The control: the same guest told a root UUID that no disk has finds no root and runs nothing of
   * the image.
   */
  @Test
  void aGuestToldAUuidNoDiskHasFindsNoRoot() throws Exception {
    Qemu.Boot boot = outcome(wrongUuid);
    assertThat(boot.lines("XENVBD-INITRAMFS FAILED: "))
        .as(boot.describe())
        .containsExactly("no block device has UUID=" + NO_SUCH_UUID);
    assertThat(boot.lines("XENVBD-GUEST ")).as(boot.describe()).isEmpty();
  }

  static final String NO_SUCH_UUID = UUID.randomUUID().toString();

  static Qemu.Boot bootWithAUuidNoDiskHas() {
    Case c = new Case(Filesystem.ext4, Kind.Offline);
    Outcome built = OUTCOMES.get(c).join();
    Path copy = tmp.resolve("boots").resolve("wrong-uuid.img");
    Exec.run("cp", "--sparse=always", built.status().path(), copy.toString()).ok();
    return boot(
        copy, "root=UUID=" + NO_SUCH_UUID, tmp.resolve("boots").resolve("wrong-uuid.console"));
  }

  static Outcome outcome(Case c) throws Exception {
    return outcome(OUTCOMES.get(c));
  }

  static <T> T outcome(CompletableFuture<T> future) throws Exception {
    try {
      return future.get(30, TimeUnit.MINUTES);
    } catch (ExecutionException e) {
      throw e.getCause() instanceof Exception cause ? cause : e;
    }
  }

  /** What a user does (apply, wait for Ready, grow), then a boot of a sparse copy of the image. */
  static Outcome buildAndBoot(Case c) {
    long start = System.nanoTime();
    String sourceUuid = null;
    if (c.kind() == Kind.Clone)
      sourceUuid = awaitReady(new Case(c.fs(), Kind.LoopMount).name(), 1).filesystemUUID();
    if (c.kind() == Kind.Adopted) sourceUuid = recipeImage(c);
    kube.resource(
            kube.getKubernetesSerialization()
                .unmarshal(Manifests.disk(c.name(), c.size(), spec(c)), VirtualDisk.class))
        .create();
    VirtualDiskStatus status = awaitReady(c.name(), 1);
    long built = status.capacityBytes();
    if (c.kind() == Kind.Grown) {
      // A merge patch, as `kubectl patch --type=merge` sends: the operator's own writes cannot make
      // it conflict.
      kube.resources(VirtualDisk.class)
          .inNamespace("default")
          .withName(c.name())
          .patch(
              PatchContext.of(PatchType.JSON_MERGE),
              "{\"spec\":{\"size\":\"" + c.grownSize() + "\"}}");
      status = awaitReady(c.name(), 2);
    }
    long ready = System.nanoTime();
    Path copy = tmp.resolve("boots").resolve(c.name() + ".img");
    Exec.run("cp", "--sparse=always", status.path(), copy.toString()).ok();
    String marker = HexFormat.of().formatHex(new SecureRandom().generateSeed(8));
    Qemu.Boot boot =
        boot(
            copy,
            "root=UUID=" + status.filesystemUUID() + " xenvbd.marker=" + marker,
            tmp.resolve("boots").resolve(c.name() + ".console"));
    System.out.printf(
        "%s: Ready after %d s, booted in %d s%n",
        c, (ready - start) / 1_000_000_000L, boot.took().toSeconds());
    return new Outcome(
        c,
        status,
        built,
        sourceUuid,
        marker,
        boot,
        ImageFiles.read(copy, c.fs(), GuestRoot.WRITTEN),
        ImageFiles.problems(copy, c.fs()));
  }

  /**
   * The Xen manual's recipe, as an admin types it: a sparse file, mkfs, mount -o loop, cp -a of the
   * root tree, hand-written /etc/hostname and /etc/fstab (by UUID), umount; placed in the agent's
   * import directory. Returns the UUID it was made with.
   */
  static String recipeImage(Case c) {
    String uuid = UUID.randomUUID().toString();
    Path image = tmp.resolve("imports").resolve(c.name() + ".img");
    Path mnt = tmp.resolve("recipe-mnt-" + c.name());
    Exec.run("truncate", "-s", c.size().replace("Mi", "M"), image.toString()).ok();
    Exec.run("mkfs." + c.fs(), "-q", "-F", "-U", uuid, image.toString()).ok();
    try {
      Files.createDirectories(mnt);
      Exec.run("mount", "-o", "loop", image.toString(), mnt.toString()).ok();
      try {
        Exec.run("cp", "-a", tree + "/.", mnt + "/").ok();
        for (String d : List.of("dev", "proc", "sys", "tmp"))
          Files.createDirectories(mnt.resolve(d));
        Files.writeString(mnt.resolve("etc/hostname"), c.name() + "\n");
        Files.writeString(
            mnt.resolve("etc/fstab"),
            "UUID="
                + uuid
                + " / "
                + c.fs()
                + " "
                + c.rootOptions()
                + " 0 1\nproc /proc proc defaults 0 0\n");
      } finally {
        Exec.run("umount", mnt.toString()).ok();
      }
    } catch (IOException e) {
      throw new UncheckedIOException(e);
    }
    return uuid;
  }

  /** Two guests at a time: each takes a core under TCG. */
  static Qemu.Boot boot(Path copy, String kernelArgs, Path console) {
    TWO_GUESTS.acquireUninterruptibly();
    try {
      return Qemu.boot(kernel, copy, kernelArgs, console, BOOT_TIMEOUT);
    } finally {
      TWO_GUESTS.release();
    }
  }

  /**
   * The disk's spec as a user writes it: the guest root tree by one of the populate paths,
   * tailored.
   */
  static String spec(Case c) {
    String populate =
        switch (c.kind()) {
          case Offline, LoopMount ->
              "method: " + c.kind() + "\nhostPaths: [{path: " + tree + ", target: /}]\n" + dirs();
          case Archive -> "archive: {source: " + archive + "}\n" + dirs();
          case Clone -> "cloneFrom: {name: " + new Case(c.fs(), Kind.LoopMount).name() + "}\n";
          case Grown -> "hostPaths: [{path: " + tree + ", target: /}]\n" + dirs();
          case Adopted -> "adopt: {importFile: " + c.name() + ".img}\n";
        };
    if (c.kind() == Kind.Adopted) {
      // an adopted image is never rewritten: no tailor, its hostname and fstab are the admin's
      return "filesystem: %s\nnodeName: boot-node\npopulate:\n%s\n"
          .formatted(c.fs(), populate.indent(2).stripTrailing());
    }
    return """
        filesystem: %s
        populate:
        %s
        tailor:
          hostname: %s
          fstab:
            - {device: self, mountPoint: /, type: %s, options: "%s", pass: 1}
            - {device: proc, mountPoint: /proc, type: proc}
        """
        .formatted(c.fs(), populate.indent(2).stripTrailing(), c.name(), c.fs(), c.rootOptions());
  }

  private static String dirs() {
    return "createDirs: [/dev, /proc, /sys, /tmp]\n";
  }

  /**
   * Polls until the disk is Ready for {@code generation}; the status then reports what was built.
   */
  static VirtualDiskStatus awaitReady(String name, long generation) {
    long deadline = System.nanoTime() + READY_TIMEOUT.toNanos();
    VirtualDisk d = null;
    while (System.nanoTime() < deadline) {
      d = kube.resources(VirtualDisk.class).inNamespace("default").withName(name).get();
      VirtualDiskStatus s = d == null ? null : d.getStatus();
      if (s != null
          && s.phase() == VirtualDiskStatus.Phase.Ready
          && s.observedGeneration() != null
          && s.observedGeneration() >= generation) {
        return s;
      }
      try {
        Thread.sleep(250);
      } catch (InterruptedException e) {
        Thread.currentThread().interrupt();
        throw new IllegalStateException(e);
      }
    }
    throw new AssertionError(
        name
            + " was not Ready (generation "
            + generation
            + ") within "
            + READY_TIMEOUT
            + ": "
            + (d == null ? "no such VirtualDisk" : d.getStatus()));
  }
}
