package io.xenvbd.disk;

import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.regex.Matcher;
import java.util.regex.Pattern;

/**
 * Several filesystem tools run one after another on one image in a single {@link Sandbox} (the same
 * sandbox, with the image and nothing else of dom0 in reach, as each tool alone gets): one
 * bubblewrap start instead of one per tool, which costs 40–140 ms each on a loaded node (measured,
 * 2 Dec 2026). Each step must end with an exit code up to its {@code maxOk}; the first that does
 * not ends the session, and the error names that tool, its exit code and its output, as if it had
 * run alone.
 *
 * <p>The commands are the engine's own (tools, options, UUIDs, sizes: never a tenant's text); every
 * argument is single-quoted all the same. The step that failed is told by the last line of stderr,
 * which the session's shell writes after the tool has ended, so nothing a tool prints (about a
 * crafted filesystem, say) can pass for it.
 */
final class ToolSession {
  /** One tool: its command (paths as the sandbox sees them), the highest exit code that is fine. */
  record Step(List<String> command, int maxOk, boolean keepStdout) {
    static Step required(String... command) {
      return new Step(List.of(command), 0, false);
    }
  }

  private static final String MARK = "xenvbd-session-step ";
  private static final Pattern MARKER =
      Pattern.compile("(?s)(.*?)\\n?" + MARK + "(\\d+) (\\d+)\\n?$");

  private final Sandbox sandbox;

  ToolSession(Sandbox sandbox) {
    this.sandbox = sandbox;
  }

  /**
   * Runs {@code steps} on {@code image}; returns the session's stdout (only the steps that keep
   * theirs; the others' goes to stderr). Throws the failing step's error.
   */
  String run(Path image, List<Step> steps, Duration timeout) {
    StringBuilder script = new StringBuilder();
    for (int i = 0; i < steps.size(); i++) {
      Step s = steps.get(i);
      for (String a : s.command()) script.append(quote(a)).append(' ');
      if (!s.keepStdout()) script.append(">&2 ");
      script
          .append("; rc=$?; if [ $rc -gt ")
          .append(s.maxOk())
          .append(" ]; then echo '")
          .append(MARK)
          .append(i)
          .append(" '$rc >&2; exit 1; fi\n");
    }
    List<String> shown = new ArrayList<>();
    for (Step s : steps) {
      if (!shown.isEmpty()) shown.add("&&");
      shown.addAll(s.command());
    }
    CommandRunner.Result r =
        sandbox.onImage(image, null, List.of("sh", "-c", script.toString(), "sh"), timeout);
    if (r.ok()) return r.stdout();
    Matcher m = MARKER.matcher(r.stderr());
    if (!m.matches()) {
      throw CommandRunner.failure(
          new CommandRunner.Result(
              shownOnHost(shown, image), r.exitCode(), r.stdout(), r.stderr()));
    }
    Step failed = steps.get(Integer.parseInt(m.group(2)));
    int rc = Integer.parseInt(m.group(3));
    String tool = failed.command().get(0);
    if (rc == 127) {
      throw new DiskException(
          ErrorCode.ToolMissing,
          "the tool '"
              + tool
              + "' is not installed on this node: install it ("
              + CommandRunner.packageHint(tool)
              + ") or choose a filesystem/method that does not need it");
    }
    throw CommandRunner.failure(
        new CommandRunner.Result(shownOnHost(failed.command(), image), rc, r.stdout(), m.group(1)));
  }

  private static List<String> shownOnHost(List<String> command, Path image) {
    return command.stream().map(a -> a.equals(Sandbox.IMAGE) ? image.toString() : a).toList();
  }

  static String quote(String arg) {
    return "'" + arg.replace("'", "'\\''") + "'";
  }
}
