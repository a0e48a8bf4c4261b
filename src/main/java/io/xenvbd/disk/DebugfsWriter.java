package io.xenvbd.disk;

import io.xenvbd.api.SpecRules;
import io.xenvbd.api.Tailor;
import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.attribute.PosixFilePermissions;
import java.time.Duration;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.LinkedHashSet;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.function.Consumer;
import java.util.function.Predicate;

/**
 * createDirs and tailored files written into an ext2/3/4 image file with {@code debugfs -w}, the
 * filesystem's own tool: no mount, no loop device. It runs in the {@link Sandbox} with only the
 * image and a private staging directory (the new files' content and the script) in reach, so
 * whatever it reads of a guest's filesystem, nothing of dom0 is there to reach: debugfs resolves
 * every name inside the image and opens nothing but the image and the staged files.
 *
 * <p>The rules are {@link TreeFiles}': a directory on the way that is a symbolic link or no
 * directory is refused, a missing one is made (0755, root); an entry at a file's path, whatever it
 * is (file, symbolic link, FIFO, device node, socket, one name of a hard-linked file), is removed
 * ({@code rm} unlinks that one name and frees the inode only when no name is left) and a new
 * regular file is written in its place. debugfs on its own would resolve a symbolic link on the way
 * inside the image ({@code rm}, {@code mkdir}) or refuse it ({@code write}), so every path is
 * looked at first: a read-only debugfs dumps the inode of each path ({@code inode_dump}, hex only,
 * so nothing a guest wrote can pass for debugfs's output; more of them, in batches that the kept
 * output holds, where the paths are many), then, from what they saw, one debugfs writes; all in one
 * sandbox run that reads its next round from the agent ({@link ToolSession#converse}). Nothing else
 * has the image meanwhile (it is this build's temporary file), so what the looks saw is what the
 * write changes.
 */
final class DebugfsWriter {
  private static final int S_IFMT = 0170000;
  private static final int S_IFDIR = 0040000;
  private static final int S_IFLNK = 0120000;
  private static final int S_IFREG = 0100000;

  /** The one line debugfs prints to stderr when all went well. */
  private static final String BANNER = "debugfs ";

  private final CommandRunner runner;
  private final ToolSession session;
  private final ImagePaths paths;

  DebugfsWriter(CommandRunner runner, Sandbox sandbox, ImagePaths paths) {
    this.runner = runner;
    this.session = new ToolSession(sandbox);
    this.paths = paths;
  }

  /**
   * Makes {@code dirs} and writes {@code files} (in this order, a later file replacing an earlier
   * one at the same path) into {@code image}; the staging directory it uses is given to {@code
   * temps}.
   */
  void write(Path image, List<String> dirs, List<Tailor.File> files, Consumer<Path> temps) {
    write(image, dirs, files, temps, List.of(), List.of());
  }

  /**
   * As {@link #write}, with {@code before} run ahead of the read-only looks and {@code after}
   * behind the write, in the same sandbox run (a clone's new UUID before, its check after: one
   * sandbox run in all, as measured in docs/benchmarks.md 6i); returns the outcomes of {@code
   * after}.
   */
  List<ToolSession.Outcome> write(
      Path image,
      List<String> dirs,
      List<Tailor.File> files,
      Consumer<Path> temps,
      List<ToolSession.Step> before,
      List<ToolSession.Step> after) {
    Set<String> lookups = new LinkedHashSet<>();
    for (String d : dirs) lookups.addAll(prefixes(TreeFiles.components(d), 0));
    for (Tailor.File f : files) {
      TreeFiles.checkMode(f.mode(), f.path());
      List<String> parts = TreeFiles.components(f.path());
      if (parts.isEmpty())
        throw DiskException.invalid(
            "path '" + f.path() + "' names no file: give a file path such as /etc/motd");
      lookups.addAll(prefixes(parts, 1));
      lookups.add(join(parts));
    }
    if (lookups.isEmpty()) {
      List<ToolSession.Step> steps = new ArrayList<>(before);
      steps.addAll(after);
      List<ToolSession.Outcome> all = session.runEach(image, null, steps, timeout());
      return all.subList(before.size(), all.size());
    }
    Path staging = paths.tempUnderRoot("staging");
    temps.accept(staging);
    try {
      Files.createDirectory(
          staging,
          PosixFilePermissions.asFileAttribute(PosixFilePermissions.fromString("rwx------")));
    } catch (IOException e) {
      throw Io.wrap(e, "staging the tailored files in " + staging);
    }
    // One sandbox run, in rounds: the looks (the first behind the steps before), then, chosen from
    // what they saw, the writes and the steps after. The staging directory is bound when the run
    // starts; what is staged in it later is there for the later rounds.
    List<List<String>> batches = batches(List.copyOf(lookups));
    Map<String, Integer> modes = new LinkedHashMap<>();
    int[] looked = {0};
    List<ToolSession.Step> first = new ArrayList<>(before);
    first.add(lookStep(staging, batches.get(0), 0));
    ToolSession.Ran ran =
        session.converse(
            image,
            staging,
            first,
            done -> {
              if (looked[0] == batches.size()) return List.of(); // the writes ran: the end
              parseLook(image, staging, done.get(done.size() - 1), batches.get(looked[0]), modes);
              if (++looked[0] < batches.size())
                return List.of(lookStep(staging, batches.get(looked[0]), looked[0]));
              List<ToolSession.Step> steps = new ArrayList<>();
              steps.add(writeStep(staging, dirs, files, modes).quiet()); // it echoes the script
              steps.addAll(after);
              return steps;
            },
            timeout());
    int write = before.size() + batches.size();
    // debugfs's own complaint first (no space for a file, say), even when a later step failed
    if (ran.outcomes().size() > write && ran.outcomes().get(write) != null)
      complaints(image, staging, ran.outcomes().get(write), l -> false);
    List<ToolSession.Outcome> all = ran.orThrow();
    return all.subList(write + 1, all.size());
  }

  /** The write script for what the looks saw, staged with the files' content: its debugfs step. */
  private static ToolSession.Step writeStep(
      Path staging, List<String> dirs, List<Tailor.File> files, Map<String, Integer> modes) {
    try {
      List<String> script = new ArrayList<>();
      for (String d : dirs) directory(TreeFiles.components(d), d, modes, script);
      for (int i = 0; i < files.size(); i++) file(files.get(i), i, staging, modes, script);
      Files.write(staging.resolve("write"), script, StandardCharsets.UTF_8);
    } catch (IOException e) {
      throw Io.wrap(e, "staging the tailored files in " + staging);
    }
    return debugfsStep("-w", "write");
  }

  /** The directories on the way, checked from the top; missing ones made. */
  private static void directory(
      List<String> parts, String guestPath, Map<String, Integer> modes, List<String> script) {
    StringBuilder shown = new StringBuilder();
    for (String part : parts) {
      shown.append('/').append(part);
      String dir = shown.toString();
      Integer mode = modes.get(dir);
      if (mode == null) {
        script.add("mkdir " + quote(dir));
        modes.put(dir, S_IFDIR | 0755);
      } else if ((mode & S_IFMT) == S_IFLNK) {
        throw TreeFiles.throughLink(dir, guestPath);
      } else if ((mode & S_IFMT) != S_IFDIR) {
        throw TreeFiles.notADirectory(dir, guestPath);
      }
    }
  }

  private static void file(
      Tailor.File f, int index, Path staging, Map<String, Integer> modes, List<String> script)
      throws IOException {
    List<String> parts = TreeFiles.components(f.path());
    directory(parts.subList(0, parts.size() - 1), f.path(), modes, script);
    String path = join(parts);
    Integer existing = modes.get(path);
    if (existing != null && (existing & S_IFMT) == S_IFDIR) throw TreeFiles.isADirectory(f.path());
    if (existing != null) script.add("rm " + quote(path));
    String content = "f" + index;
    Files.writeString(staging.resolve(content), f.content(), StandardCharsets.UTF_8);
    script.add("write " + quote(Sandbox.STAGING + "/" + content) + " " + quote(path));
    script.add(
        "sif "
            + quote(path)
            + " mode 0"
            + Integer.toOctalString(S_IFREG | Integer.parseInt(f.mode(), 8)));
    modes.put(path, S_IFREG);
  }

  /**
   * The paths in batches of looks, each as many as a round's kept output holds whatever the inodes
   * hold: a dump of a 256-byte inode is ~1.2 KB, and each look's command comes back with its path.
   */
  private static List<List<String>> batches(List<String> lookups) {
    List<List<String>> batches = new ArrayList<>();
    int from = 0;
    while (from < lookups.size()) {
      int to = from;
      long bytes = 0;
      while (to < lookups.size() && (to == from || bytes + lookCost(lookups.get(to)) <= LOOK_BYTES))
        bytes += lookCost(lookups.get(to++));
      batches.add(lookups.subList(from, to));
      from = to;
    }
    return batches;
  }

  /** What one round's looks may print at most: the kept output, less room for the steps before. */
  private static final long LOOK_BYTES = 48 * 1024;

  /** The most one look can print: its command echoed, a dump of a large inode, its complaint. */
  private static long lookCost(String path) {
    return 2 * path.length() + 1600;
  }

  /** A read-only debugfs run of {@code lookups}, its script staged as look-{@code batch}. */
  private static ToolSession.Step lookStep(Path staging, List<String> lookups, int batch) {
    try {
      Files.write(staging.resolve("look-" + batch), lookCommands(lookups), StandardCharsets.UTF_8);
    } catch (IOException e) {
      throw Io.wrap(e, "staging the looks in " + staging);
    }
    return debugfsStep(null, "look-" + batch);
  }

  private static List<String> lookCommands(List<String> lookups) {
    return lookups.stream().map(p -> "inode_dump " + quote(p)).toList();
  }

  /** The mode of each path's inode (null: nothing there) from its look, added to {@code modes}. */
  private static void parseLook(
      Path image,
      Path staging,
      ToolSession.Outcome look,
      List<String> lookups,
      Map<String, Integer> modes) {
    List<String> commands = lookCommands(lookups);
    // Nothing at a path (or a non-directory on the way) is an answer too: "<path>: File not found
    // by ext2_lookup".
    String out =
        complaints(
            image,
            staging,
            look,
            line -> lookups.stream().anyMatch(p -> line.startsWith(p + ": ")));
    int next = 0;
    String current = null;
    for (String line : out.split("\n")) {
      if (line.startsWith("debugfs: ")) {
        if (next >= commands.size() || !line.equals("debugfs: " + commands.get(next)))
          throw unreadable(image, line);
        current = lookups.get(next++);
      } else if (current != null && line.startsWith("0000  ") && !modes.containsKey(current)) {
        // The inode's first two bytes, little-endian: i_mode.
        String hex = line.substring(6, 10);
        modes.put(current, Integer.parseInt(hex.substring(2, 4) + hex.substring(0, 2), 16));
      }
    }
    if (next != commands.size())
      throw unreadable(image, "(" + next + " of " + commands.size() + " answers)");
  }

  /** debugfs ({@code -w} or read-only) on the image with the staged script; its stdout kept. */
  private static ToolSession.Step debugfsStep(String writable, String script) {
    List<String> cmd = new ArrayList<>(List.of("debugfs"));
    if (writable != null) cmd.add(writable);
    cmd.addAll(List.of("-f", Sandbox.STAGING + "/" + script, Sandbox.IMAGE));
    return new ToolSession.Step(cmd, 0, true);
  }

  /**
   * debugfs exits 0 whatever its commands did and says what failed on stderr: any line there but
   * its banner and the {@code expected} ones fails the build. Returns its stdout.
   */
  private static String complaints(
      Path image, Path staging, ToolSession.Outcome o, Predicate<String> expected) {
    if (!o.stderrWhole()) {
      // what the tools before it said filled the kept stderr (e2fsck -p clearing thousands of a
      // guest's orphan inodes): debugfs's own complaints would be lost, so nothing is written
      throw new DiskException(
          ErrorCode.CommandFailed,
          "the filesystem tools' messages about "
              + image
              + " were more than the agent keeps, so debugfs's could not be read; check the"
              + " source filesystem (e2fsck -f) and retry");
    }
    List<String> complaints =
        o.stderr()
            .lines()
            .filter(l -> !l.isBlank() && !l.startsWith(BANNER))
            .filter(expected.negate())
            .toList();
    if (!complaints.isEmpty()) {
      throw CommandRunner.failure(
          new CommandRunner.Result(
              ToolSession.shownOnHost(o.step().command(), image, staging),
              1,
              "",
              String.join("\n", complaints)));
    }
    return o.stdout();
  }

  private Duration timeout() {
    Duration floor = Duration.ofMinutes(30);
    return floor.compareTo(runner.defaultTimeout()) > 0 ? floor : runner.defaultTimeout();
  }

  private static DiskException unreadable(Path image, String what) {
    return new DiskException(
        ErrorCode.CommandFailed,
        "debugfs's listing of "
            + image
            + " was not what xenvbd asked for ("
            + SpecRules.quote(what)
            + "): nothing was written; see the agent log");
  }

  /** "/a", "/a/b", … of all but the last {@code dropLast} components. */
  private static List<String> prefixes(List<String> parts, int dropLast) {
    List<String> out = new ArrayList<>();
    for (int i = 1; i <= parts.size() - dropLast; i++) out.add(join(parts.subList(0, i)));
    return out;
  }

  private static String join(List<String> parts) {
    return "/" + String.join("/", parts);
  }

  /** debugfs's own quoting (lib/ss): inside double quotes, a doubled quote is one quote. */
  static String quote(String s) {
    return "\"" + s.replace("\"", "\"\"") + "\"";
  }
}
