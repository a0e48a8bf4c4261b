package io.xenvbd.reliability;

import static org.assertj.core.api.Assertions.assertThat;

import io.fabric8.kubernetes.api.model.Condition;
import io.xenvbd.api.Conditions;
import io.xenvbd.api.VirtualDisk;
import io.xenvbd.reliability.BadInputCases.Case;
import io.xenvbd.testing.Exec;
import io.xenvbd.testing.Manifests;
import io.xenvbd.testing.RequiresRoot;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.function.IntFunction;
import java.util.stream.Collectors;
import java.util.stream.IntStream;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.MethodSource;

/**
 * Promise 3: every case of {@link BadInputCases} is refused with an error that names what to
 * change, and nothing is created: no VirtualDisk when the API refuses, no image, no temporary file,
 * no loop device or mount when the operator or agent refuses, and nothing written into dom0.
 */
@RequiresRoot
class BadInputTest {
  @TempDir static Path tmp;
  static BadFixture fx;
  static final List<String> seen = new ArrayList<>();

  @BeforeAll
  static void start() throws Exception {
    fx = BadFixture.start(tmp);
  }

  @AfterAll
  static void stop() {
    if (fx != null) fx.close();
    System.out.println("[reliability] bad inputs refused: " + seen.size());
    seen.forEach(s -> System.out.println("[bad-input] " + s));
  }

  static List<Case> cases() {
    return BadInputCases.all();
  }

  @ParameterizedTest(name = "{0}")
  @MethodSource("cases")
  void badInputIsRefusedWithAClearErrorAndNothingIsCreated(Case c) throws Exception {
    check(c);
  }

  void check(Case c) throws Exception {
    String name = c.id().toLowerCase();
    String spec = fx.fill(c.spec(), name);
    String hostnameBefore = Files.readString(Path.of("/etc/hostname"));
    String error;
    if (c.via() == BadInputCases.Via.kubectl) {
      Exec.Result r = fx.kubectl.apply(Manifests.diskIn(c.namespace(), name, spec));
      assertThat(r.exit()).as("kubectl apply of %s exit code (stdout %s)", c, r.out()).isNotZero();
      assertThat(r.err()).as("error for %s", c).contains(c.expect());
      assertThat(fx.kubectl.exists(c.namespace(), name)).as("%s was created", name).isFalse();
      error = r.err().strip();
    } else {
      fx.rig.apply(Manifests.diskIn(c.namespace(), name, spec));
      VirtualDisk d;
      try {
        d =
            fx.rig.awaitConditionIn(
                c.namespace(), name, Conditions.READY, c.reason(), Duration.ofSeconds(60));
        assertThat(Rig.condition(d, Conditions.READY).getReason())
            .as("%s: %s", c, Rig.describe(d))
            .isEqualTo(c.reason());
      } catch (org.awaitility.core.ConditionTimeoutException e) {
        throw new AssertionError(
            c
                + ": never reached Ready reason "
                + c.reason()
                + "; status: "
                + Rig.describe(fx.rig.get(c.namespace(), name)),
            e);
      }
      Condition ready = Rig.condition(d, Conditions.READY);
      assertThat(ready.getStatus()).isEqualTo(Conditions.FALSE);
      assertThat(ready.getMessage()).as("message for %s", c).contains(c.expect());
      error = ready.getReason() + ": " + ready.getMessage();
    }
    assertThat(error)
        .as("a message a person can act on")
        .doesNotContain(": null")
        .doesNotContain("Exception");
    fx.assertNothingCreated(c.namespace(), name);
    assertThat(Files.readString(Path.of("/etc/hostname")))
        .as("dom0's /etc/hostname")
        .isEqualTo(hostnameBefore);
    assertThat(Path.of("/etc/cron.d/evil")).doesNotExist();
    assertThat(Path.of("/evil")).doesNotExist();
    if (c.via() == BadInputCases.Via.operator) fx.deleteAndWait(c.namespace(), name);
    synchronized (seen) {
      seen.add(c.id() + " | " + c.what() + " | " + c.via() + " | " + oneLine(error));
    }
  }

  @Test
  void immutableFieldChangesAreRefusedAtApplyAndTheImageIsUntouched() throws Exception {
    List<String> lines = BadUpdatesAndCalls.immutableChanges(fx);
    synchronized (seen) {
      seen.addAll(lines);
    }
  }

  @Test
  void malformedAndHostileAgentCallsGetAClearAnswerAndChangeNothing() throws Exception {
    List<String> lines = BadUpdatesAndCalls.agentCalls(fx);
    synchronized (seen) {
      seen.addAll(lines);
    }
  }

  static String oneLine(String s) {
    String flat = s.replaceAll("\\s+", " ");
    return flat.length() > 300 ? flat.substring(0, 300) + "..." : flat;
  }

  static String repeat(int n, IntFunction<String> item) {
    return IntStream.range(0, n).mapToObj(item).collect(Collectors.joining(", "));
  }
}
