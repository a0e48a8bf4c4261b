package io.xenvbd.disk;

import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;

/**
 * Where the tools that interpret a tenant's tree (tar extracting an archive, cp copying hostPaths over
 * what an archive or a guest left) run: a bubblewrap sandbox whose whole world is the image tree at
 * {@link #TREE} (read-write, nodev, nosuid), the sources read-only, the system's programs read-only, a
 * minimal /dev and a read-only empty root. No other file of dom0 is in its mount namespace, it has no
 * network, and it keeps only the capabilities a faithful copy needs (owners, modes, device nodes,
 * file capabilities), none that could mount, trace or load anything.
 *
 * <p>So a symbolic link in the tree, absolute or relative, resolves inside the sandbox: to the tree
 * itself or to the read-only scaffolding, never to dom0's disks, other images or /dev; a device node
 * in the tree cannot be opened (nodev); and a write that a planted link steers out of the tree fails
 * with "Read-only file system" instead of landing anywhere.
 */
final class Sandbox {
  /** The image tree inside the sandbox. */
  static final String TREE = "/target";
  private static final List<String> CAPABILITIES = List.of(
      "CAP_CHOWN", "CAP_DAC_OVERRIDE", "CAP_DAC_READ_SEARCH", "CAP_FOWNER", "CAP_FSETID", "CAP_MKNOD", "CAP_SETFCAP");
  private static final List<String> SYSTEM_DIRS = List.of("bin", "sbin", "lib", "lib32", "lib64", "libx32");

  /** A host path shown read-only inside the sandbox at {@code inside}. */
  record ReadOnly(Path host, String inside) {}

  private final CommandRunner runner;

  Sandbox(CommandRunner runner) {
    this.runner = runner;
  }

  /**
   * Runs {@code command} (paths as the sandbox sees them) with {@code tree} at {@link #TREE} (no tree
   * when null); exit 0 required.
   */
  CommandRunner.Result run(Path tree, List<ReadOnly> readOnly, List<String> command) {
    return runner.run(wrap(tree, readOnly, command));
  }

  /** Runs and returns whatever the exit code (timeouts and interrupts still throw). */
  CommandRunner.Result exec(Path tree, List<ReadOnly> readOnly, List<String> command, Duration timeout) {
    return runner.exec(wrap(tree, readOnly, command), timeout, null);
  }

  static List<String> wrap(Path tree, List<ReadOnly> readOnly, List<String> command) {
    // No user namespace (--unshare-user would forbid mknod of the device nodes a /dev copy needs);
    // bwrap runs as root and drops every capability but the listed ones before exec.
    List<String> cmd = new ArrayList<>(List.of("bwrap", "--unshare-ipc", "--unshare-pid", "--unshare-net",
        "--unshare-uts", "--unshare-cgroup-try", "--die-with-parent", "--new-session", "--cap-drop", "ALL"));
    for (String cap : CAPABILITIES) cmd.addAll(List.of("--cap-add", cap));
    cmd.addAll(List.of("--clearenv", "--setenv", "PATH", "/usr/bin:/usr/sbin:/bin:/sbin", "--setenv", "LC_ALL", "C",
        "--ro-bind", "/usr", "/usr"));
    for (String dir : SYSTEM_DIRS) {
      Path host = Path.of("/", dir);
      if (Files.isSymbolicLink(host)) {
        try {
          cmd.addAll(List.of("--symlink", Files.readSymbolicLink(host).toString(), host.toString()));
        } catch (java.io.IOException e) {
          throw Io.wrap(e, "reading the link " + host);
        }
      } else if (Files.isDirectory(host)) {
        cmd.addAll(List.of("--ro-bind", host.toString(), host.toString()));
      }
    }
    cmd.addAll(List.of("--dev", "/dev"));
    if (tree != null) cmd.addAll(List.of("--bind", tree.toString(), TREE));
    for (ReadOnly r : readOnly) cmd.addAll(List.of("--ro-bind", r.host().toString(), r.inside()));
    cmd.addAll(List.of("--remount-ro", "/", "--chdir", "/", "--"));
    cmd.addAll(command);
    return cmd;
  }

  /** The sandbox's path of a path inside the tree. */
  static String inTree(Path tree, Path hostPathInTree) {
    Path rel = tree.relativize(hostPathInTree);
    return rel.toString().isEmpty() ? TREE : TREE + "/" + rel;
  }
}
