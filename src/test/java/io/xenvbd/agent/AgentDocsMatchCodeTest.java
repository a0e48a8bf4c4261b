package io.xenvbd.agent;

import static org.assertj.core.api.Assertions.assertThat;

import io.xenvbd.disk.ErrorCode;
import io.xenvbd.disk.LoopStatus;
import io.xenvbd.disk.StorageInfo;
import io.xenvbd.docs.DocsMatchCodeTest;
import io.xenvbd.docs.Markdown;
import io.xenvbd.protocol.ErrorCodes;
import java.lang.reflect.Field;
import java.lang.reflect.Modifier;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.TreeMap;
import java.util.TreeSet;
import java.util.regex.Matcher;
import java.util.regex.Pattern;
import org.junit.jupiter.api.Test;

/**
 * docs/agent.md held to the agent: its flag table, its error table (codes and statuses), its
 * metrics and its body limits.
 */
class AgentDocsMatchCodeTest {
  static final String DOC = "docs/agent.md";

  @Test
  void theFlagTableListsEveryOptionWithTheVariableItReads() {
    assertThat(DocsMatchCodeTest.flagTableProblems(DOC, DocsMatchCodeTest.spec(new AgentCommand())))
        .isEmpty();
  }

  static Set<String> errorCodes() throws IllegalAccessException {
    Set<String> all = new TreeSet<>();
    for (Field f : ErrorCodes.class.getFields())
      if (Modifier.isStatic(f.getModifiers()) && f.getType() == String.class)
        all.add((String) f.get(null));
    return all;
  }

  @Test
  void everyCodeTheErrorTableNamesIsTheProtocolsWithTheStatusTheAgentAnswersAndNoneIsLeftOut()
      throws Exception {
    Set<String> code = errorCodes();
    Map<String, Integer> documented = new TreeMap<>();
    for (List<String> row : Markdown.table(DOC, "HTTP | code | when"))
      for (String c : Markdown.codeSpans(row.get(1), Pattern.compile("[A-Z][A-Za-z]+")))
        documented.put(c, Integer.parseInt(row.get(0)));
    assertThat(documented.keySet()).as("codes in docs/agent.md's table").isSubsetOf(code);
    List<String> wrongStatus = new ArrayList<>();
    for (ErrorCode e : ErrorCode.values()) {
      String wire = ApiError.wireCode(e);
      Integer doc = documented.get(wire);
      if (doc != null && doc != ApiError.status(e))
        wrongStatus.add(wire + ": documented " + doc + ", answered " + ApiError.status(e));
    }
    assertThat(wrongStatus).isEmpty();
    // Every code an agent can give is in the Errors section (the table, or the paragraph on
    // failures reported in a DiskState); Unreachable is the operator's client's own, never sent.
    String section = Markdown.section(DOC, "### Errors");
    Set<String> absent = new TreeSet<>(code);
    absent.removeAll(Markdown.codeSpans(section));
    absent.remove(ErrorCodes.UNREACHABLE);
    assertThat(absent).as("codes the Errors section does not name").isEmpty();
  }

  @Test
  void everyMetricTheDocsNameIsExportedAndEveryExportedOneIsDocumented() {
    String text =
        new Metrics()
            .render(
                new LoopStatus(8, List.of()),
                new StorageInfo(Path.of("/images"), 1, 1, 0, 0),
                0,
                0);
    Set<String> exported = Markdown.all(text, Pattern.compile("# TYPE (xenvbd_agent_\\w+)"));
    Set<String> documented =
        Markdown.all(
            Markdown.read(DOC) + Markdown.read("README.md"),
            Pattern.compile("(xenvbd_agent_\\w+)"));
    assertThat(exported).isNotEmpty();
    assertThat(documented).as("named in the docs").isSubsetOf(exported);
    assertThat(exported).as("exported by the agent").isSubsetOf(documented);
  }

  @Test
  void theBodyLimitsTheDocsStateAreTheOnesTheAgentEnforces() {
    String doc = Markdown.read(DOC);
    assertThat(Exchanges.MAX_BODY_BYTES % (1 << 20)).as("a whole number of MiB").isZero();
    assertThat(mib(doc, "\\| 413 \\| `PayloadTooLarge` \\| body over (\\d+) MiB"))
        .isEqualTo(Exchanges.MAX_BODY_BYTES >> 20);
    assertThat(mib(doc, "Bodies are limited to (\\d+) MiB"))
        .isEqualTo(Exchanges.MAX_BODY_BYTES >> 20);
    assertThat(mib(doc, "reads up to (\\d+) MiB more before answering"))
        .isEqualTo(Exchanges.OVERSIZE_DRAIN_BYTES >> 20);
    assertThat(mib(doc, "A body declared at most (\\d+) KiB long is read"))
        .isEqualTo(Exchanges.REFUSED_DRAIN_BYTES >> 10);
  }

  static int mib(String doc, String regex) {
    Matcher m = Pattern.compile(regex).matcher(doc.replaceAll("\\s+", " "));
    assertThat(m.find()).as("docs/agent.md says: " + regex).isTrue();
    return Integer.parseInt(m.group(1));
  }
}
