package io.xenvbd.bench;

import io.fabric8.kubernetes.client.KubernetesClient;
import io.xenvbd.local.LocalConfig;
import io.xenvbd.local.LocalMode;
import io.xenvbd.testing.Exec;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Locale;
import java.util.Map;

/**
 * Benchmark 4: allocated bytes (st_blocks × 512) of a fresh empty 2 GiB disk for each filesystem
 * through local mode, against the tools alone on a sparse 2 GiB file: the recipe's dd + mkfs -t
 * ext3, mke2fs with lazy init, mkfs defaults.
 */
final class SparseBench {
  static final List<String> FILESYSTEMS = List.of("ext2", "ext3", "ext4", "xfs", "none");

  private SparseBench() {}

  static void run(Ctx ctx) throws Exception {
    Path dir = ctx.dir("sparse");
    Map<String, long[]> product =
        new LinkedHashMap<>(); // fs -> {status.allocatedBytes, stat of the file}
    try (LocalMode mode =
            LocalMode.start(new LocalConfig(dir.resolve("local"), List.of(), 0, "bench-node"));
        KubernetesClient client = Clients.client(mode.config().kubeconfig(), null);
        ReadyWatch watch = new ReadyWatch(client)) {
      // all at once: what one disk allocates does not depend on the others being built beside it
      for (String fs : FILESYSTEMS) Disks.create(client, Disks.empty("sparse-" + fs, "2Gi", fs));
      for (String fs : FILESYSTEMS) {
        var status = watch.awaitReady("sparse-" + fs, 120).disk().getStatus();
        product.put(
            fs, new long[] {status.allocatedBytes(), Measure.allocated(Path.of(status.path()))});
      }
      for (String fs : FILESYSTEMS) Disks.delete(client, "sparse-" + fs);
      for (String fs : FILESYSTEMS) watch.awaitGone("sparse-" + fs, 60);
    }
    Map<String, Long> tools = new LinkedHashMap<>();
    Path img = dir.resolve("tool.img");
    tools.put(
        "recipe: `dd bs=1k seek=2048k count=1` only",
        tool(
            img,
            List.of(
                "dd", "if=/dev/zero", "of=" + img, "bs=1k", "seek=2048k", "count=1", "status=none"),
            false));
    tools.put(
        "recipe: dd + `mkfs -t ext3` (defaults)",
        tool(img, List.of("mkfs", "-t", "ext3", "-F", "-q", img.toString()), true));
    tools.put(
        "`mkfs -t ext2`",
        tool(img, List.of("mkfs", "-t", "ext2", "-F", "-q", img.toString()), true));
    tools.put(
        "`mkfs -t ext4` (defaults)",
        tool(img, List.of("mkfs", "-t", "ext4", "-F", "-q", img.toString()), true));
    tools.put(
        "`mke2fs -t ext4 -E lazy_itable_init=1,lazy_journal_init=1`",
        tool(
            img,
            List.of(
                "mke2fs",
                "-F",
                "-q",
                "-t",
                "ext4",
                "-E",
                "lazy_itable_init=1,lazy_journal_init=1",
                img.toString()),
            true));
    tools.put(
        "`mke2fs -t ext3 -J size=4 -E lazy_itable_init=1`",
        tool(
            img,
            List.of(
                "mke2fs",
                "-F",
                "-q",
                "-t",
                "ext3",
                "-J",
                "size=4",
                "-E",
                "lazy_itable_init=1",
                img.toString()),
            true));
    tools.put(
        "`mkfs.xfs` (defaults)", tool(img, List.of("mkfs.xfs", "-f", "-q", img.toString()), true));
    Files.deleteIfExists(img);
    Rig.removeTree(dir);
    ctx.report().section("sparse", render(ctx, product, tools));
  }

  /** The tool on a fresh 2 GiB sparse file (made by truncate first when {@code onSparseFile}). */
  private static long tool(Path img, List<String> cmd, boolean onSparseFile) throws Exception {
    Files.deleteIfExists(img);
    if (onSparseFile)
      Exec.run("dd", "if=/dev/zero", "of=" + img, "bs=1k", "seek=2048k", "count=1", "status=none")
          .ok();
    Exec.run(cmd).ok();
    Exec.run("sync", "-f", img.toString()).ok();
    return Measure.allocated(img);
  }

  private static String render(Ctx ctx, Map<String, long[]> product, Map<String, Long> tools) {
    StringBuilder md = new StringBuilder("## 4. Sparseness\n\n");
    md.append(
        "Allocated bytes (st_blocks × 512) of a fresh empty 2 GiB disk. Product: a `VirtualDisk` of"
            + " `size: 2Gi` through local mode, as `status.allocatedBytes` reports it and as `stat` sees the image.\n\n");
    md.append(
        "| through xenvbd | status.allocatedBytes | stat of the image | target |\n|---|---|---|---|\n");
    product.forEach(
        (fs, v) ->
            md.append(
                String.format(
                    Locale.ROOT,
                    "| `filesystem: %s` | %s | %s | %s |\n",
                    fs,
                    human(v[0]),
                    human(v[1]),
                    fs.equals("ext4")
                        ? (v[1] <= 2L << 20 ? "≤ 2 MiB: met" : "≤ 2 MiB: **missed**")
                        : fs.equals("none")
                            ? (v[1] <= 4096 ? "≤ 4 KiB: met" : "≤ 4 KiB: **missed**")
                            : "")));
    md.append("\n| the tools alone, on a 2 GiB sparse file | allocated |\n|---|---|\n");
    tools.forEach((k, v) -> md.append(String.format(Locale.ROOT, "| %s | %s |\n", k, human(v))));
    md.append("\nReproduce: `")
        .append(ctx.command())
        .append("`\n\n")
        .append(Report.environment())
        .append('\n');
    return md.toString();
  }

  static String human(long bytes) {
    if (bytes < 1024 * 1024)
      return String.format(Locale.ROOT, "%d B (%.1f KiB)", bytes, bytes / 1024.0);
    return String.format(Locale.ROOT, "%.2f MiB", bytes / 1048576.0);
  }
}
