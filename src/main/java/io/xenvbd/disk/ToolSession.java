package io.xenvbd.disk;

import java.nio.file.Path;
import java.security.SecureRandom;
import java.time.Duration;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.HexFormat;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.function.Function;
import java.util.regex.Matcher;
import java.util.regex.Pattern;

/**
 * Several filesystem tools run one after another on one image in a single {@link Sandbox} (the same
 * sandbox, with the image, a read-only staging directory when given, and nothing else of dom0 in
 * reach, as each tool alone gets): one bubblewrap start instead of one per tool, which costs 40–140
 * ms each on a loaded node (measured, 2 Dec 2026). Each step must end with an exit code up to its
 * {@code maxOk}; the first that does not ends the session, and the error names that tool, its exit
 * code and its output, as if it had run alone. A step may name recovery steps: when it fails, they
 * run (each must pass) and the step runs once more (tune2fs -U after the e2fsck -f it asks for).
 *
 * <p>The commands are the engine's own (tools, options, UUIDs, sizes: never a tenant's text); every
 * argument is single-quoted all the same. What each step printed is told apart by lines the
 * session's shell writes before and after it, carrying a random token made for this run: the token
 * is nowhere in the image or the sandbox (there is no /proc to read the script from), so nothing a
 * tool prints about a crafted filesystem can pass for the session's own lines.
 */
final class ToolSession {
  /** Where a step's stdout goes: kept apart for the caller, with its stderr, or nowhere. */
  enum Stdout {
    KEEP,
    WITH_STDERR,
    DISCARD
  }

  /**
   * One tool: its command (paths as the sandbox sees them), the highest exit code that is fine,
   * where its stdout goes, and what to run before trying it once more when it fails.
   */
  record Step(List<String> command, int maxOk, Stdout stdout, List<Step> recovery) {
    Step {
      command = List.copyOf(command);
      recovery = List.copyOf(recovery);
      for (Step r : recovery)
        if (!r.recovery().isEmpty()) throw new IllegalArgumentException("nested recovery");
    }

    Step(List<String> command, int maxOk, boolean keepStdout) {
      this(command, maxOk, keepStdout ? Stdout.KEEP : Stdout.WITH_STDERR, List.of());
    }

    static Step required(String... command) {
      return new Step(List.of(command), 0, false);
    }

    /** This step; when it fails, {@code steps} run and then this step once more. */
    Step recoveredBy(Step... steps) {
      return new Step(command, maxOk, stdout, List.of(steps));
    }

    /** This step with its stdout thrown away (a tool that echoes its commands, say). */
    Step quiet() {
      return new Step(command, maxOk, Stdout.DISCARD, recovery);
    }
  }

  /**
   * What a step's last run ended with: its exit code, its stdout (empty unless kept) and its stderr
   * (with its stdout when that goes there).
   */
  /**
   * How one step ended; {@code stderrWhole} false when its stderr was cut (the session's stderr
   * went beyond what is kept before this step's end): {@code stderr} is then not all it said.
   */
  record Outcome(Step step, int exitCode, String stdout, String stderr, boolean stderrWhole) {}

  /**
   * What a session did: the outcome of each step, in order (null for a step that did not end), and
   * the failure, if there was one.
   */
  record Ran(List<Outcome> outcomes, DiskException failure) {
    /** The outcomes; the failure thrown if there was one. */
    List<Outcome> orThrow() {
      if (failure != null) throw failure;
      return outcomes;
    }
  }

  private static final SecureRandom RANDOM = new SecureRandom();

  private final Sandbox sandbox;

  ToolSession(Sandbox sandbox) {
    this.sandbox = sandbox;
  }

  /**
   * Runs {@code steps} on {@code image}; returns the kept stdout of the steps that keep theirs, in
   * order. Throws the failing step's error.
   */
  String run(Path image, List<Step> steps, Duration timeout) {
    StringBuilder out = new StringBuilder();
    for (Outcome o : runEach(image, null, steps, timeout)) out.append(o.stdout());
    return out.toString();
  }

  /**
   * Runs {@code steps} on {@code image} with {@code staging} (when not null) read-only at {@link
   * Sandbox#STAGING}; returns each step's outcome, in order. Throws the failing step's error.
   */
  List<Outcome> runEach(Path image, Path staging, List<Step> steps, Duration timeout) {
    return attempt(image, staging, steps, timeout).orThrow();
  }

  /** As {@link #runEach}, with a failure returned beside the outcomes of the steps that ended. */
  Ran attempt(Path image, Path staging, List<Step> steps, Duration timeout) {
    if (steps.isEmpty()) return new Ran(List.of(), null);
    String token = HexFormat.of().formatHex(bytes());
    List<Run> runs = new ArrayList<>();
    StringBuilder script = new StringBuilder();
    emitSteps(script, token, runs, steps, 0);
    script.append("exit 0\n");
    CommandRunner.Result r =
        sandbox.onImage(image, staging, List.of("sh", "-c", script.toString(), "sh"), timeout);
    return account(image, staging, steps, runs, token, r.stdout(), r.stderr(), r);
  }

  /**
   * As {@link #attempt}, in rounds within one sandbox run: {@code first} runs, then the steps that
   * {@code next} chooses from the outcomes of the round before (that round's steps', in order),
   * until it chooses none. A step that fails ends the session there (as in {@link #attempt}: no
   * later round runs); so does an error thrown by {@code next}, which the caller gets. The
   * session's shell reads its script from this agent as it goes, every tool's stdin is /dev/null
   * (no tool reads the script), and a round's end is a line with this run's token, as a step's is.
   * Each round has the whole of the kept output to itself.
   */
  Ran converse(
      Path image,
      Path staging,
      List<Step> first,
      Function<List<Outcome>, List<Step>> next,
      Duration timeout) {
    if (first.isEmpty()) return new Ran(List.of(), null);
    String token = HexFormat.of().formatHex(bytes());
    String mark = token + " r ";
    List<Run> runs = new ArrayList<>();
    List<Step> all = new ArrayList<>();
    StringBuilder out = new StringBuilder();
    StringBuilder err = new StringBuilder();
    try (CommandRunner.Conversation c =
        sandbox.converseOnImage(image, staging, List.of("sh", "-s"), timeout, mark)) {
      List<Step> round = first;
      int rounds = 0;
      boolean ended = false;
      while (!ended && !round.isEmpty()) {
        int from = all.size();
        StringBuilder script = new StringBuilder();
        emitSteps(script, token, runs, round, from);
        String end = "printf '\\n" + mark + rounds + "\\n'";
        script.append(end).append("; ").append(end).append(" >&2\n");
        all.addAll(round);
        rounds++;
        // false: the shell ended (a step failed) or the time is up; the account below says which
        // (what the round printed is kept for it: a timeout's message quotes its stderr)
        ended = !c.say(script.toString()) || !c.awaitMarks(rounds);
        if (ended) break;
        String[] taken = c.take();
        taken[1] = Sandbox.onHost(taken[1], image);
        out.append(taken[0]);
        err.append(taken[1]);
        List<Outcome> done =
            Arrays.asList(ended(all, runs, token, taken[0], taken[1]).last())
                .subList(from, all.size());
        // The round's end line came, so each of its steps ended within its limit; one that did
        // not, as far as the kept output tells, was cut from it: the account below says.
        if (done.stream().anyMatch(o -> o == null || o.exitCode() > o.step().maxOk())) break;
        round = next.apply(List.copyOf(done));
      }
      // (not after an end: a round out of time is stopped at once, not given the time again)
      if (!ended) c.say("exit 0\n");
      CommandRunner.Result r = c.end();
      String[] rest = c.take();
      out.append(rest[0]);
      err.append(Sandbox.onHost(rest[1], image));
      return account(image, staging, all, runs, token, out.toString(), err.toString(), r);
    }
  }

  /** The script of {@code steps} (the session's steps {@code from} on), each with its recovery. */
  private static void emitSteps(
      StringBuilder script, String token, List<Run> runs, List<Step> steps, int from) {
    for (int j = 0; j < steps.size(); j++) {
      Step s = steps.get(j);
      int i = from + j;
      emit(script, token, runs, s, i, false, !s.recovery().isEmpty());
      if (!s.recovery().isEmpty()) {
        script.append("if [ $rc -gt ").append(s.maxOk()).append(" ]; then\n");
        for (Step r : s.recovery()) {
          emit(script, token, runs, r, i, true, false);
          script.append("if [ $rc -gt ").append(r.maxOk()).append(" ]; then exit 1; fi\n");
        }
        emit(script, token, runs, s, i, false, false);
        script.append("fi\n");
      }
      script.append("if [ $rc -gt ").append(s.maxOk()).append(" ]; then exit 1; fi\n");
    }
  }

  /**
   * What a session's output tells of its runs: each step's last outcome (null for a step that did
   * not end, or whose end was cut from the kept output), and the run that ended last, with its.
   */
  private record Ended(Outcome[] last, Run lastRun, Outcome lastOutcome) {}

  private static Ended ended(
      List<Step> steps, List<Run> runs, String token, String stdout, String stderr) {
    // Exit codes from stdout, which carries only what kept steps print: a tool that fills stderr
    // beyond what is kept (e2fsck -p's fixes of a guest's filesystem) costs its own message only.
    // A step's exit code and its kept stdout come from the same end line: one cut is both cut.
    Map<Integer, Integer> codes = new LinkedHashMap<>();
    Map<Integer, String> outs = segments(stdout, token, codes);
    Map<Integer, String> errs = segments(stderr, token, null);
    Outcome[] last = new Outcome[steps.size()];
    Run lastRun = null;
    Outcome lastOutcome = null;
    for (Map.Entry<Integer, Integer> e : codes.entrySet()) {
      lastRun = runs.get(e.getKey());
      lastOutcome =
          new Outcome(
              lastRun.step(),
              e.getValue(),
              lastRun.step().stdout() == Stdout.KEEP ? outs.get(e.getKey()) : "",
              errs.getOrDefault(e.getKey(), ""),
              errs.containsKey(e.getKey()));
      if (!lastRun.recovery()) last[lastRun.top()] = lastOutcome;
    }
    return new Ended(last, lastRun, lastOutcome);
  }

  /** What a session's output says of its steps: their outcomes, and its failure if any. */
  private static Ran account(
      Path image,
      Path staging,
      List<Step> steps,
      List<Run> runs,
      String token,
      String stdout,
      String stderr,
      CommandRunner.Result r) {
    Ended ended = ended(steps, runs, token, stdout, stderr);
    List<Outcome> outcomes = Arrays.asList(ended.last());
    // The script exits right after a run over its limit (never after the first try of a step
    // that has a recovery: the recovery runs next): that run is the one that failed.
    if (!r.ok()
        && ended.lastRun() != null
        && !ended.lastRun().firstTry()
        && ended.lastOutcome().exitCode() > ended.lastRun().step().maxOk())
      return new Ran(outcomes, failure(ended.lastRun(), ended.lastOutcome(), image, staging));
    boolean complete = true;
    for (Outcome o : ended.last()) complete &= o != null && o.exitCode() <= o.step().maxOk();
    if (!r.ok() || !complete) {
      // The session ended without its own account of every step (killed at its time limit, or an
      // output beyond what is kept): what it printed is the report.
      List<String> shown = new ArrayList<>();
      for (Step s : steps) {
        if (!shown.isEmpty()) shown.add("&&");
        shown.addAll(s.command());
      }
      return new Ran(
          outcomes,
          CommandRunner.failure(
              new CommandRunner.Result(
                  shownOnHost(shown, image, staging),
                  r.ok() ? 1 : r.exitCode(),
                  strip(stdout, token),
                  strip(stderr, token))));
    }
    return new Ran(List.copyOf(outcomes), null);
  }

  /**
   * One run of a step in the script: which step, whether as another's recovery, and whether it is
   * the first try of a step that has a recovery.
   */
  private record Run(Step step, int top, boolean recovery, boolean firstTry) {}

  private static void emit(
      StringBuilder script,
      String token,
      List<Run> runs,
      Step s,
      int top,
      boolean recovery,
      boolean firstTry) {
    int id = runs.size();
    runs.add(new Run(s, top, recovery, firstTry));
    String begin = "printf '\\n" + token + " b " + id + "\\n'";
    script.append(begin).append("; ").append(begin).append(" >&2\n");
    for (String a : s.command()) script.append(quote(a)).append(' ');
    script.append("</dev/null "); // in a conversation the shell's stdin is its script
    if (s.stdout() == Stdout.WITH_STDERR) script.append(">&2 ");
    if (s.stdout() == Stdout.DISCARD) script.append(">/dev/null ");
    // nothing a tool left running (one a crafted filesystem took over, say) lives into the next
    // step or round: in the sandbox's PID namespace this spares only its init and this shell
    script.append("; rc=$?; kill -s KILL -- -1 2>/dev/null\n");
    script
        .append("printf '\\n")
        .append(token)
        .append(" e ")
        .append(id)
        .append(" %s\\n' $rc; printf '\\n")
        .append(token)
        .append(" e ")
        .append(id)
        .append(" %s\\n' $rc >&2\n");
  }

  /**
   * The text between each run's begin and end lines in {@code stream}, by run; {@code codes} (when
   * not null) is given each ended run's exit code, in the order the runs ended.
   */
  private static Map<Integer, String> segments(
      String stream, String token, Map<Integer, Integer> codes) {
    Pattern line = Pattern.compile("\\n" + token + " ([be]) (\\d+)(?: (\\d+))?\\n");
    Matcher m = line.matcher(stream);
    Map<Integer, String> out = new LinkedHashMap<>();
    int open = -1;
    int from = 0;
    while (m.find()) {
      int id = Integer.parseInt(m.group(2));
      if (m.group(1).equals("b")) {
        open = id;
        from = m.end();
      } else if (id == open) {
        out.put(id, stream.substring(from, m.start()));
        if (codes != null) codes.put(id, Integer.parseInt(m.group(3)));
        open = -1;
      }
    }
    return out;
  }

  private static String strip(String stream, String token) {
    return stream.replaceAll("\\n" + token + " [ber] \\d+(?: \\d+)?\\n", "\n");
  }

  private static DiskException failure(Run failed, Outcome o, Path image, Path staging) {
    String tool = failed.step().command().get(0);
    if (o.exitCode() == 127) {
      return new DiskException(
          ErrorCode.ToolMissing,
          "the tool '"
              + tool
              + "' is not installed on this node: install it ("
              + CommandRunner.packageHint(tool)
              + ") or choose a filesystem/method that does not need it");
    }
    // e2fsck says nothing when malloc fails under the sandbox's limit (Sandbox.toolMemory): an
    // operational error (8) with nothing said is that limit, reached on crafted metadata
    if (tool.equals("e2fsck") && (o.exitCode() & 8) != 0 && o.stderr().isBlank())
      return Sandbox.outOfMemory(shownOnHost(failed.step().command(), image, staging));
    return CommandRunner.failure(
        new CommandRunner.Result(
            shownOnHost(failed.step().command(), image, staging),
            o.exitCode(),
            o.stdout(),
            o.stderr()));
  }

  private static byte[] bytes() {
    byte[] b = new byte[16];
    RANDOM.nextBytes(b);
    return b;
  }

  /** {@code command} as it reads on the host: the image's and the staging directory's paths. */
  static List<String> shownOnHost(List<String> command, Path image, Path staging) {
    return command.stream()
        .map(
            a ->
                a.equals(Sandbox.IMAGE)
                    ? image.toString()
                    : staging != null && a.startsWith(Sandbox.STAGING + "/")
                        ? staging + a.substring(Sandbox.STAGING.length())
                        : a)
        .toList();
  }

  static String quote(String arg) {
    return "'" + arg.replace("'", "'\\''") + "'";
  }
}
