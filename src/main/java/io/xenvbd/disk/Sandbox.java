package io.xenvbd.disk;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.LinkOption;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;

/**
 * Where the tools that interpret a tenant's tree (tar extracting an archive, cp copying hostPaths
 * over what an archive or a guest left) run: a bubblewrap sandbox whose whole world is the image
 * tree at {@link #TREE} (read-write, nodev, nosuid), the sources read-only, the system's programs
 * read-only, a minimal /dev and a read-only empty root. No other file of dom0 is in its mount
 * namespace, it has no network, and it keeps only the capabilities a faithful copy needs (owners,
 * modes, device nodes, file capabilities), none that could mount, trace or load anything.
 *
 * <p>The filesystem tools that read an image a guest wrote, or a staging tree a tenant filled
 * (e2fsck, resize2fs, tune2fs, dumpe2fs, blkid, mke2fs -d, xfs_repair, xfs_admin), run in the same
 * sandbox with the image file at {@link #IMAGE}: a tool that a crafted filesystem leads astray has
 * nothing of dom0 to reach.
 *
 * <p>So a symbolic link in the tree, absolute or relative, resolves inside the sandbox: to the tree
 * itself or to the read-only scaffolding, never to dom0's disks, other images or /dev; a device
 * node in the tree cannot be opened (nodev); and a write that a planted link steers out of the tree
 * fails with "Read-only file system" instead of landing anywhere.
 */
final class Sandbox {
  /** The image tree inside the sandbox. */
  static final String TREE = "/target";

  /** The image file inside the sandbox, for the filesystem tools. */
  static final String IMAGE = "/image";

  /** A staging tree, read-only, for mke2fs -d. */
  static final String STAGING = "/staging";

  private static final List<String> CAPABILITIES =
      List.of(
          "CAP_CHOWN",
          "CAP_DAC_OVERRIDE",
          "CAP_DAC_READ_SEARCH",
          "CAP_FOWNER",
          "CAP_FSETID",
          "CAP_MKNOD",
          "CAP_SETFCAP");
  private static final Path EXT4_FEATURES = Path.of("/sys/fs/ext4/features");
  private static final List<String> SYSTEM_DIRS =
      List.of("bin", "sbin", "lib", "lib32", "lib64", "libx32");

  /** A host path shown read-only inside the sandbox at {@code inside}. */
  record ReadOnly(Path host, String inside) {}

  private final CommandRunner runner;

  Sandbox(CommandRunner runner) {
    this.runner = runner;
  }

  /**
   * Runs {@code command} (paths as the sandbox sees them) with {@code tree} at {@link #TREE} (no
   * tree when null); exit 0 required.
   */
  CommandRunner.Result run(Path tree, List<ReadOnly> readOnly, List<String> command) {
    return run(tree, readOnly, command, null);
  }

  /** As {@link #run(Path, List, List)}, with {@code stdin} (a file of the agent's) as its stdin. */
  CommandRunner.Result run(Path tree, List<ReadOnly> readOnly, List<String> command, Path stdin) {
    CommandRunner.Result r =
        checked(
            runner.exec(wrap(tree, readOnly, command), command, runner.defaultTimeout(), stdin));
    if (!r.ok()) throw CommandRunner.failure(r);
    return r;
  }

  /**
   * As {@link #run}, returning whatever the exit code; {@code shown} names the command in messages.
   */
  CommandRunner.Result exec(
      Path tree, List<ReadOnly> readOnly, List<String> command, List<String> shown) {
    return checked(
        runner.exec(wrap(tree, readOnly, command), shown, runner.defaultTimeout(), null));
  }

  /**
   * Runs a filesystem tool on {@code image} (read-write at {@link #IMAGE}; {@code staging}, when
   * not null, read-only at {@link #STAGING}) and returns whatever the exit code. No /proc (through
   * it a uid-0 process could write the kernel's settings), so e2fsprogs are told that a missing
   * mtab is fine (the engine has checked that the image is not mounted); no capability but, for
   * mke2fs -d, reading a staging tree whose files a tenant made unreadable.
   */
  CommandRunner.Result onImage(Path image, Path staging, List<String> command, Duration timeout) {
    return onImage(image, staging, command, timeout, false);
  }

  /**
   * As {@link #onImage}, with the image bound read-only: for the probes and checks of an image
   * being adopted, which must not change a byte of it whatever the tool (or a crafted filesystem)
   * tries.
   */
  CommandRunner.Result onImageReadOnly(Path image, List<String> command, Duration timeout) {
    return onImage(image, null, command, timeout, true);
  }

  private CommandRunner.Result onImage(
      Path image, Path staging, List<String> command, Duration timeout, boolean readOnly) {
    CommandRunner.Result r =
        withinMemory(
            checked(
                runner.exec(
                    onImageCommand(image, staging, command, readOnly),
                    shownOnHost(image, staging, command),
                    timeout,
                    null)));
    return new CommandRunner.Result(
        r.command(), r.exitCode(), r.stdout(), onHost(r.stderr(), image));
  }

  /** A tool's stderr as it reads on the host: "/image:" names the image file. */
  static String onHost(String stderr, Path image) {
    return stderr.replace(IMAGE + ":", image + ":");
  }

  /**
   * {@code command} started as {@link #onImage} starts it (the image read-write), for a
   * conversation: its stdin is this agent's to write (see {@link ToolSession#converse}).
   */
  CommandRunner.Conversation converseOnImage(
      Path image, Path staging, List<String> command, Duration timeout, String mark) {
    return runner.converse(
        onImageCommand(image, staging, command, false),
        shownOnHost(image, staging, command),
        timeout,
        mark);
  }

  private static List<String> onImageCommand(
      Path image, Path staging, List<String> command, boolean readOnly) {
    List<String> cmd =
        new ArrayList<>(List.of(readOnly ? "--ro-bind" : "--bind", image.toString(), IMAGE));
    if (staging != null) cmd.addAll(List.of("--ro-bind", staging.toString(), STAGING));
    cmd.addAll(List.of("--setenv", "EXT2FS_NO_MTAB_OK", "1"));
    // resize2fs leaves new inode tables to the kernel's lazy init only where the kernel says it has
    // one.
    if (Files.isDirectory(EXT4_FEATURES))
      cmd.addAll(List.of("--ro-bind", EXT4_FEATURES.toString(), EXT4_FEATURES.toString()));
    List<String> caps = staging == null ? List.of() : List.of("CAP_DAC_READ_SEARCH");
    List<String> limited = new ArrayList<>(List.of("prlimit", "--data=" + toolMemory(image), "--"));
    limited.addAll(wrap(null, List.of(), cmd, command, caps));
    return limited;
  }

  /**
   * The memory (RLIMIT_DATA, inherited by everything in the sandbox) a filesystem tool may take for
   * {@code image}: 512 MiB and 1/256 of the image's size (a legitimate e2fsck of a 2 TiB filesystem
   * needs about 2 GiB). A guest can craft metadata whose check never ends: one file whose
   * triple-indirect block names itself made e2fsck grow by 80 MB/s on a 64 MiB filesystem, to 24 GB
   * before dom0's OOM killer stopped it (found in review).
   */
  static long toolMemory(Path image) {
    long size;
    try {
      size = Files.size(image);
    } catch (IOException e) {
      size = 0;
    }
    return TOOL_MEMORY_FLOOR + size / 256;
  }

  static final long TOOL_MEMORY_FLOOR = 512L << 20;

  private static List<String> shownOnHost(Path image, Path staging, List<String> command) {
    return command.stream()
        .map(
            a ->
                a.equals(IMAGE)
                    ? image.toString()
                    : a.equals(STAGING) && staging != null ? staging.toString() : a)
        .toList();
  }

  /** Exit code of {@link #guarded} when the bound source is not the one that was checked. */
  static final int SOURCE_CHANGED = 97;

  /**
   * {@code command}, run only if {@code inside} is the file that was checked on the host ({@code
   * devIno}, see {@link #devIno}): bwrap resolves a bind's source when the sandbox starts, so
   * whoever can write an allowed directory could put a link in place of a checked source between
   * the check and the copy; a bind then holds what it found, and comparing device and inode inside
   * the sandbox tells whether that is the checked file.
   */
  static List<String> guarded(String inside, String devIno, List<String> command) {
    List<String> cmd =
        new ArrayList<>(
            List.of(
                "sh",
                "-c",
                "[ \"$(stat -c %d:%i \"$1\")\" = \"$2\" ] || exit "
                    + SOURCE_CHANGED
                    + "; shift 2; exec \"$@\"",
                "sh",
                inside,
                devIno));
    cmd.addAll(command);
    return cmd;
  }

  /** "device:inode" of a path, not following a link at its end (null: refused as changed later). */
  static String devIno(Path p) {
    try {
      var a = Files.readAttributes(p, "unix:dev,ino", LinkOption.NOFOLLOW_LINKS);
      return a.get("dev") + ":" + a.get("ino");
    } catch (IOException e) {
      throw Io.wrap(e, "reading " + p);
    }
  }

  /** A tool out of the memory it may use ({@link #toolMemory}) fails in one sentence. */
  private static CommandRunner.Result withinMemory(CommandRunner.Result r) {
    if (!r.ok() && outOfMemory(r.stderr())) throw outOfMemory(r.command());
    return r;
  }

  static DiskException outOfMemory(List<String> shown) {
    return new DiskException(
        ErrorCode.CommandFailed,
        "'"
            + String.join(" ", shown)
            + "' ran out of the memory a filesystem tool may use for an image of this size"
            + " (metadata a guest crafted can make it so): check or repair the source disk from"
            + " inside its guest, or use another one");
  }

  private static boolean outOfMemory(String stderr) {
    return stderr.contains("Memory allocation failed")
        || stderr.contains("Cannot allocate memory")
        || stderr.contains("memory exhausted");
  }

  /** A tool missing inside the sandbox is ToolMissing, as it is outside. */
  private static CommandRunner.Result checked(CommandRunner.Result r) {
    if (!r.ok() && r.stderr().startsWith("prlimit: failed to execute bwrap")) {
      throw new DiskException(
          ErrorCode.ToolMissing,
          "the sandbox 'bwrap' is not installed on this node: install it ("
              + CommandRunner.packageHint("bwrap")
              + ")");
    }
    if (!r.ok() && r.stderr().startsWith("bwrap: execvp ")) {
      String tool = r.command().get(0);
      throw new DiskException(
          ErrorCode.ToolMissing,
          "the tool '"
              + tool
              + "' is not installed on this node: install it ("
              + CommandRunner.packageHint(tool)
              + ") or choose a filesystem/method that does not need it");
    }
    return r;
  }

  static List<String> wrap(Path tree, List<ReadOnly> readOnly, List<String> command) {
    return wrap(tree, readOnly, List.of(), command, CAPABILITIES);
  }

  private static List<String> wrap(
      Path tree,
      List<ReadOnly> readOnly,
      List<String> mounts,
      List<String> command,
      List<String> capabilities) {
    // No user namespace (--unshare-user would forbid mknod of the device nodes a /dev copy needs);
    // bwrap runs as root and drops every capability but the listed ones before exec.
    List<String> cmd =
        new ArrayList<>(
            List.of(
                "bwrap",
                "--unshare-ipc",
                "--unshare-pid",
                "--unshare-net",
                "--unshare-uts",
                "--unshare-cgroup-try",
                "--die-with-parent",
                "--new-session",
                "--cap-drop",
                "ALL"));
    for (String cap : capabilities) cmd.addAll(List.of("--cap-add", cap));
    cmd.addAll(
        List.of(
            "--clearenv",
            "--setenv",
            "PATH",
            "/usr/bin:/usr/sbin:/bin:/sbin",
            "--setenv",
            "LC_ALL",
            "C",
            "--ro-bind",
            "/usr",
            "/usr"));
    for (String dir : SYSTEM_DIRS) {
      Path host = Path.of("/", dir);
      if (Files.isSymbolicLink(host)) {
        try {
          cmd.addAll(
              List.of("--symlink", Files.readSymbolicLink(host).toString(), host.toString()));
        } catch (IOException e) {
          throw Io.wrap(e, "reading the link " + host);
        }
      } else if (Files.isDirectory(host)) {
        cmd.addAll(List.of("--ro-bind", host.toString(), host.toString()));
      }
    }
    cmd.addAll(List.of("--dev", "/dev"));
    if (tree != null) cmd.addAll(List.of("--bind", tree.toString(), TREE));
    for (ReadOnly r : readOnly) cmd.addAll(List.of("--ro-bind", r.host().toString(), r.inside()));
    cmd.addAll(mounts);
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
