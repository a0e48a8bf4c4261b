package io.xenvbd.disk;

import java.io.ByteArrayOutputStream;
import java.io.File;
import java.io.IOException;
import java.io.InputStream;
import java.nio.charset.StandardCharsets;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.Locale;
import java.util.concurrent.TimeUnit;
import java.util.function.Consumer;
import java.util.regex.Pattern;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * The one way the engine runs an external tool: an argument list (never a shell string), a timeout,
 * stdout and stderr kept, and a typed {@link DiskException} on failure. A timeout or an interrupt
 * of the calling thread destroys the whole process tree, so no mkfs or cp outlives the build it
 * served.
 */
public final class CommandRunner {
  /** At debug: each command's wall time, to see where a build's time goes. */
  private static final Logger LOG = LoggerFactory.getLogger(CommandRunner.class);

  /** Kept per stream: enough for an error message, bounded against a tool that floods. */
  private static final int KEEP_BYTES = 64 * 1024;

  private final Duration defaultTimeout;

  public CommandRunner(Duration defaultTimeout) {
    this.defaultTimeout = defaultTimeout;
  }

  public record Result(List<String> command, int exitCode, String stdout, String stderr) {
    public boolean ok() {
      return exitCode == 0;
    }
  }

  /** Runs and requires exit code 0. */
  public Result run(String... command) {
    return run(List.of(command));
  }

  public Result run(List<String> command) {
    Result r = exec(command, defaultTimeout, null);
    if (!r.ok()) throw failure(r);
    return r;
  }

  /**
   * Runs and returns whatever the exit code; still throws on a missing tool, a timeout or an
   * interrupt.
   */
  public Result exec(List<String> command, Duration timeout, Path stdin) {
    return exec(command, command, timeout, stdin);
  }

  /** "30 min", "90 s": how a person reads a duration. */
  static String human(Duration d) {
    long s = d.toSeconds();
    return s % 60 == 0 && s >= 60 ? s / 60 + " min" : s + " s";
  }

  Duration defaultTimeout() {
    return defaultTimeout;
  }

  /**
   * As {@link #exec(List, Duration, Path)}, with {@code shown} standing for {@code command} in
   * messages and in the result (a sandboxed tool is named, not its sandbox's whole command line).
   */
  Result exec(List<String> command, List<String> shown, Duration timeout, Path stdin) {
    return exec(command, shown, timeout, stdin, null);
  }

  /**
   * As {@link #exec(List, Duration, Path)}; {@code onStart} (when not null) is told the process on
   * the calling thread as soon as it exists, before it is waited for (see {@link CloneCopies}).
   */
  Result execTold(List<String> command, Duration timeout, Consumer<Process> onStart) {
    return exec(command, command, timeout, null, onStart);
  }

  private Result exec(
      List<String> command,
      List<String> shown,
      Duration timeout,
      Path stdin,
      Consumer<Process> onStart) {
    ProcessBuilder pb = new ProcessBuilder(command);
    pb.environment().put("LC_ALL", "C"); // stable messages: NoSpace detection reads stderr
    if (stdin != null) pb.redirectInput(stdin.toFile());
    else pb.redirectInput(ProcessBuilder.Redirect.from(new File("/dev/null")));
    long started = System.nanoTime();
    Process p = start(pb, command);
    if (onStart != null) onStart.accept(p);
    Drain out = new Drain(p.getInputStream(), null);
    Drain err = new Drain(p.getErrorStream(), null);
    return awaitEnd(p, out, err, command, shown, started + timeout.toNanos(), timeout, started);
  }

  /** Waits for {@code p} until {@code deadline} (System.nanoTime) and returns what it did. */
  private static Result awaitEnd(
      Process p,
      Drain out,
      Drain err,
      List<String> command,
      List<String> shown,
      long deadline,
      Duration timeout,
      long started) {
    try {
      if (!p.waitFor(Math.max(0, deadline - System.nanoTime()), TimeUnit.NANOSECONDS)) {
        destroyTree(p);
        throw new DiskException(
            ErrorCode.CommandFailed,
            "'"
                + String.join(" ", shown)
                + "' did not finish within "
                + human(timeout)
                + " (a fixed limit, no setting changes it) and was stopped: the images root may be"
                + " too slow or the content too large; build from less content or onto faster"
                + " storage; stderr: "
                + err.text());
      }
      out.join();
      err.join();
      if (LOG.isDebugEnabled())
        LOG.debug(
            "{} ms: {}{}",
            (System.nanoTime() - started) / 1_000_000,
            shown.get(0),
            command.get(0).equals(shown.get(0)) ? "" : " (in " + command.get(0) + ")");
      return new Result(List.copyOf(shown), p.exitValue(), out.text(), err.text());
    } catch (InterruptedException e) {
      destroyTree(p);
      throw new DiskException(
          ErrorCode.Interrupted, "interrupted while running '" + String.join(" ", shown) + "'", e);
    }
  }

  /**
   * A command whose stdin this agent writes as it goes (a shell reading its script), each part of
   * its work with {@code timeout} from when it was said: {@link Conversation#say}, {@link
   * Conversation#awaitMarks} for the lines that end a part, {@link Conversation#end} for its
   * result. {@code mark}: the line prefix that counts (on stdout and stderr alike, wherever the
   * kept output was cut).
   */
  Conversation converse(List<String> command, List<String> shown, Duration timeout, String mark) {
    ProcessBuilder pb = new ProcessBuilder(command);
    pb.environment().put("LC_ALL", "C");
    long started = System.nanoTime();
    Process p = start(pb, command);
    byte[] m = mark.getBytes(StandardCharsets.UTF_8);
    return new Conversation(
        p,
        new Drain(p.getInputStream(), m),
        new Drain(p.getErrorStream(), m),
        command,
        shown,
        timeout,
        started);
  }

  /** See {@link #converse}. Not for use by more than one thread. */
  static final class Conversation implements AutoCloseable {
    private final Process p;
    private final Drain out;
    private final Drain err;
    private final List<String> command;
    private final List<String> shown;
    private final Duration timeout;
    private final long started;
    private long deadline; // of the part said last
    private Result result;

    private Conversation(
        Process p,
        Drain out,
        Drain err,
        List<String> command,
        List<String> shown,
        Duration timeout,
        long started) {
      this.p = p;
      this.out = out;
      this.err = err;
      this.command = command;
      this.shown = shown;
      this.timeout = timeout;
      this.started = started;
      this.deadline = started + timeout.toNanos();
    }

    /**
     * Writes {@code text} (a part of the work, as short as a script's lines: the pipe holds 64 KiB)
     * to the command's stdin, which has {@code timeout} from now for it; false when it no longer
     * reads (it ended).
     */
    boolean say(String text) {
      deadline = System.nanoTime() + timeout.toNanos();
      try {
        p.getOutputStream().write(text.getBytes(StandardCharsets.UTF_8));
        p.getOutputStream().flush();
        return true;
      } catch (IOException e) {
        return false;
      }
    }

    /**
     * Whether both stdout and stderr have carried {@code n} mark lines, waiting until they have,
     * the command has ended, or the deadline (then false).
     */
    boolean awaitMarks(int n) {
      try {
        return out.awaitMarks(n, deadline) && err.awaitMarks(n, deadline);
      } catch (InterruptedException e) {
        destroyTree(p);
        throw new DiskException(
            ErrorCode.Interrupted,
            "interrupted while running '" + String.join(" ", shown) + "'",
            e);
      }
    }

    /**
     * What was kept of stdout and of stderr since the last take, each then kept anew (up to the
     * same bound): a part of the work read as it ends leaves the next part all of the room.
     */
    String[] take() {
      return new String[] {out.take(), err.take()};
    }

    /** Closes stdin and waits for the command (within what is left of its time): its result. */
    Result end() {
      if (result == null) {
        try {
          p.getOutputStream().close();
        } catch (IOException ignored) {
          // it ended already
        }
        result = awaitEnd(p, out, err, command, shown, deadline, timeout, started);
      }
      return result;
    }

    /** Ends the command at once if {@link #end} was not reached (an error in between). */
    @Override
    public void close() {
      if (result == null && p.isAlive()) destroyTree(p);
    }
  }

  /**
   * Runs a command whose stdout is read as a stream by {@code reader} (e.g. a decompressor feeding
   * a tar lister). The process is destroyed once the reader returns or fails.
   */
  public <T> T stream(List<String> command, Path stdin, StreamReader<T> reader) {
    return stream(command, stdin, null, reader);
  }

  /**
   * As {@link #stream(List, Path, StreamReader)}; {@code onStart} (when not null) is told the
   * process on the calling thread as soon as it exists (see {@link CloneCopies}).
   */
  <T> T stream(
      List<String> command, Path stdin, Consumer<Process> onStart, StreamReader<T> reader) {
    return stream(command, stdin, onStart, reader, false);
  }

  /**
   * As {@link #stream(List, Path, Consumer, StreamReader)}; {@code quiet}: anything the command
   * prints on stderr fails it, also with exit code 0 (xfs_io reports a failed lseek there, stops
   * and exits 0: its report would look whole).
   */
  <T> T stream(
      List<String> command,
      Path stdin,
      Consumer<Process> onStart,
      StreamReader<T> reader,
      boolean quiet) {
    ProcessBuilder pb = new ProcessBuilder(command).redirectInput(stdin.toFile());
    pb.environment().put("LC_ALL", "C");
    Process p = start(pb, command);
    if (onStart != null) onStart.accept(p);
    Drain err = new Drain(p.getErrorStream(), null);
    try (InputStream in = p.getInputStream()) {
      T value = reader.read(in);
      if (!p.waitFor(defaultTimeout.toMillis(), TimeUnit.MILLISECONDS)) destroyTree(p);
      err.join();
      if (p.exitValue() != 0 || (quiet && !err.text().isBlank()))
        throw failure(new Result(command, p.exitValue() != 0 ? p.exitValue() : 1, "", err.text()));
      return value;
    } catch (IOException e) {
      throw new DiskException(
          ErrorCode.CommandFailed,
          "reading the output of '"
              + String.join(" ", command)
              + "' failed: "
              + e.getMessage()
              + "; stderr: "
              + err.text(),
          e);
    } catch (InterruptedException e) {
      throw new DiskException(
          ErrorCode.Interrupted,
          "interrupted while running '" + String.join(" ", command) + "'",
          e);
    } finally {
      // a process that ended has nothing left to kill; the walk of every process that finding
      // its descendants takes is not paid on every clone's filefrag
      if (p.isAlive()) destroyTree(p);
    }
  }

  @FunctionalInterface
  public interface StreamReader<T> {
    T read(InputStream in) throws IOException;
  }

  /**
   * A failed command as a typed error: NoSpace when the tool says so, else CommandFailed with its
   * stderr.
   */
  public static DiskException failure(Result r) {
    String cmd = String.join(" ", r.command());
    String output = r.stderr().isBlank() ? r.stdout() : r.stderr();
    String detail = detail(output);
    if (isNoSpace(output)) {
      return new DiskException(
          ErrorCode.NoSpace,
          "'"
              + cmd
              + "' ran out of space: "
              + detail
              + " — free space on the images root, or make the disk (spec.size) large enough for its content");
    }
    return new DiskException(
        ErrorCode.CommandFailed,
        "'" + cmd + "' failed with exit code " + r.exitCode() + ": " + detail);
  }

  /**
   * Lines of a tool's output kept in an error message; enough for its complaint, not for a report.
   */
  static final int DETAIL_LINES = 5;

  static final int DETAIL_CHARS = 1000;
  private static final Pattern USAGE = Pattern.compile("^\\s*[Uu]sage:.*");

  /**
   * What a person needs of a tool's output: its complaint, without the usage text some tools print
   * after it (mkfs.xfs prints 40 lines of it under "Filesystem must be larger than 300MB."), and at
   * most {@link #DETAIL_LINES} lines of at most {@link #DETAIL_CHARS} characters in all.
   */
  static String detail(String output) {
    List<String> lines = new ArrayList<>();
    int more = 0;
    for (String line : output.strip().split("\\R")) {
      if (USAGE.matcher(line).matches()) break;
      if (line.isBlank()) continue;
      if (lines.size() < DETAIL_LINES) lines.add(line.strip());
      else more++;
    }
    if (lines.isEmpty())
      return output.isBlank() ? "(no output)" : "(the tool printed only its usage text)";
    String text = String.join("\n", lines);
    if (text.length() > DETAIL_CHARS) text = text.substring(0, DETAIL_CHARS) + "...";
    return more == 0 ? text : text + "\n(" + more + " more lines)";
  }

  static boolean isNoSpace(String text) {
    String t = text.toLowerCase(Locale.ROOT);
    return t.contains("no space left on device")
        || t.contains("enospc")
        || t.contains(
            "could not allocate block") // mke2fs -d: the content does not fit in the image
        || t.contains("file too large")
        || t.contains("disk quota exceeded");
  }

  private static Process start(ProcessBuilder pb, List<String> command) {
    try {
      return pb.start();
    } catch (IOException e) {
      String tool = command.get(0);
      if (e.getMessage() != null
          && (e.getMessage().contains("error=2") || e.getMessage().contains("No such file"))) {
        throw new DiskException(
            ErrorCode.ToolMissing,
            "the tool '"
                + tool
                + "' is not installed on this node: install it"
                + " ("
                + packageHint(tool)
                + ") or choose a filesystem/method that does not need it",
            e);
      }
      throw new DiskException(
          ErrorCode.CommandFailed,
          "cannot start '" + String.join(" ", command) + "': " + e.getMessage(),
          e);
    }
  }

  static String packageHint(String tool) {
    return switch (Path.of(tool).getFileName().toString()) {
      case "mkfs.xfs", "xfs_repair", "xfs_growfs", "xfs_admin", "xfs_io" ->
          "Debian package xfsprogs";
      case "mke2fs", "e2fsck", "resize2fs", "tune2fs", "dumpe2fs", "debugfs", "filefrag" ->
          "Debian package e2fsprogs";
      case "zstd" -> "Debian package zstd";
      case "xz" -> "Debian package xz-utils";
      case "bwrap" -> "Debian package bubblewrap";
      default -> "Debian packages coreutils, util-linux, mount, tar";
    };
  }

  /**
   * Kills descendants first so that a shell-less pipeline (tar spawning xz) cannot keep running.
   */
  static void destroyTree(Process p) {
    p.descendants().forEach(ProcessHandle::destroyForcibly);
    p.destroyForcibly();
    try {
      p.onExit().get(10, TimeUnit.SECONDS);
    } catch (Exception ignored) {
      // Interrupted again or stuck in D state: nothing more a user process can do.
    }
  }

  /**
   * Reads a stream on a daemon thread, keeping at most {@link #KEEP_BYTES}; counts the lines that
   * begin with {@code mark} (when not null) in all of it, kept or not.
   */
  private static final class Drain extends Thread {
    private final InputStream in;
    private final ByteArrayOutputStream kept = new ByteArrayOutputStream();
    private final byte[] mark; // "\n" + prefix: a line that begins with the prefix
    private int matched; // bytes of mark matched at the end of what was read
    private int marks;
    private boolean ended;

    Drain(InputStream in, byte[] mark) {
      this.in = in;
      this.mark =
          mark == null
              ? null
              : ("\n" + new String(mark, StandardCharsets.UTF_8)).getBytes(StandardCharsets.UTF_8);
      setDaemon(true);
      setName("cmd-drain");
      start();
    }

    @Override
    public void run() {
      byte[] buf = new byte[8192];
      try (in) {
        int n;
        while ((n = in.read(buf)) > 0) {
          synchronized (kept) {
            if (kept.size() < KEEP_BYTES) kept.write(buf, 0, Math.min(n, KEEP_BYTES - kept.size()));
            if (mark != null && count(buf, n) > 0) kept.notifyAll();
          }
        }
      } catch (IOException ignored) {
        // The process was destroyed: what was read so far is what we keep.
      } finally {
        synchronized (kept) {
          ended = true;
          kept.notifyAll();
        }
      }
    }

    /** Marks completed in {@code buf[0..n)}, carrying a partial match over from the last read. */
    private int count(byte[] buf, int n) {
      int found = 0;
      for (int i = 0; i < n; i++) {
        // the mark begins with its only newline, so a mismatch restarts at 0 or 1
        if (buf[i] == mark[matched]) matched++;
        else matched = buf[i] == mark[0] ? 1 : 0;
        if (matched == mark.length) {
          found++;
          marks++;
          matched = 0;
        }
      }
      return found;
    }

    /** Whether {@code n} marks were read before the stream ended or {@code deadline} passed. */
    boolean awaitMarks(int n, long deadline) throws InterruptedException {
      synchronized (kept) {
        while (marks < n && !ended) {
          long left = deadline - System.nanoTime();
          if (left <= 0) return false;
          TimeUnit.NANOSECONDS.timedWait(kept, left);
        }
        return marks >= n;
      }
    }

    String text() {
      synchronized (kept) {
        return kept.toString(StandardCharsets.UTF_8);
      }
    }

    String take() {
      synchronized (kept) {
        String t = kept.toString(StandardCharsets.UTF_8);
        kept.reset();
        return t;
      }
    }
  }
}
