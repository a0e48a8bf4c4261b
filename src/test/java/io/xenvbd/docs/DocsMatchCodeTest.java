package io.xenvbd.docs;

import static org.assertj.core.api.Assertions.assertThat;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.dataformat.yaml.YAMLMapper;
import io.xenvbd.agent.AgentCommand;
import io.xenvbd.api.Reasons;
import io.xenvbd.local.LocalCommand;
import io.xenvbd.operator.OperatorCommand;
import java.io.IOException;
import java.lang.reflect.Field;
import java.lang.reflect.Modifier;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.LinkedHashSet;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.TreeSet;
import java.util.regex.Matcher;
import java.util.regex.Pattern;
import org.junit.jupiter.api.Test;
import picocli.CommandLine;
import picocli.CommandLine.Model.CommandSpec;
import picocli.CommandLine.Model.OptionSpec;

/**
 * What the README and docs/ claim about flags, environment variables, Helm values, condition
 * reasons, metric names and the supported Kubernetes version, held to the code and the chart. Each
 * check compares in both directions where the docs promise completeness, so a flag added without
 * its line, or a line left behind by a removed flag, fails here.
 */
public class DocsMatchCodeTest {
  static final Pattern FLAG = Pattern.compile("(--[a-z][a-z0-9-]*)");
  static final Pattern ENV = Pattern.compile("[A-Z][A-Z0-9]*(_[A-Z0-9]+)+|KUBECONFIG");
  static final Pattern ENV_DEFAULT = Pattern.compile("\\$\\{env:([A-Z0-9_]+)");
  static final Pattern REASON =
      Pattern.compile(
          "[A-Z][a-z]+([A-Z][a-z]+)+|Ready|Resized|Resizing|Provisioned|Provisioning|Deleted|Retained");

  static final Map<String, CommandSpec> ROLES =
      Map.of(
          "agent", spec(new AgentCommand()),
          "operator", spec(new OperatorCommand()),
          "local", spec(new LocalCommand()));

  /** A command's options with their defaults as written ({@code ${env:NAME:-...}}). */
  public static CommandSpec spec(Object command) {
    CommandLine c = new CommandLine(command);
    c.setInterpolateVariables(false);
    return c.getCommandSpec();
  }

  static List<String> roles(String cell) {
    return switch (cell) {
      case "both" -> List.of("agent", "operator");
      default -> List.of(cell.split(",\\s*"));
    };
  }

  /** The env twin of an option: the variable its default reads, or none. */
  static Set<String> envOf(OptionSpec o) {
    return o.defaultValue() == null ? Set.of() : Markdown.all(o.defaultValue(), ENV_DEFAULT);
  }

  @Test
  void everyFlagAndVariableInTheReadmesTableIsAnOptionOfItsRolesAndEveryOptionIsListed() {
    List<String> problems = new ArrayList<>();
    Map<String, Set<String>> listed =
        Map.of("agent", new TreeSet<>(), "operator", new TreeSet<>(), "local", new TreeSet<>());
    for (List<String> row : Markdown.table("README.md", "role | flag (env) | default")) {
      Set<String> flags = Markdown.all(row.get(1), FLAG);
      Set<String> envs = Markdown.codeSpansOrParenthesised(row.get(1), ENV);
      if (flags.isEmpty()) problems.add("a row without a flag: " + row);
      for (String role : roles(row.get(0))) {
        CommandSpec spec = ROLES.get(role);
        if (spec == null) {
          problems.add("unknown role '" + role + "' in " + row);
          continue;
        }
        Set<String> twins = new LinkedHashSet<>();
        for (String flag : flags) {
          OptionSpec o = spec.findOption(flag);
          if (o == null) problems.add(role + " has no option " + flag + " (README: " + row + ")");
          else {
            listed.get(role).add(o.longestName());
            twins.addAll(envOf(o));
          }
        }
        for (String env : envs)
          if (!twins.contains(env))
            problems.add(
                role
                    + ": "
                    + env
                    + " is the twin of none of "
                    + flags
                    + " (its twins: "
                    + twins
                    + ")");
      }
    }
    ROLES.forEach(
        (role, spec) -> {
          for (OptionSpec o : spec.options())
            if (!o.hidden()
                && !o.usageHelp()
                && !o.versionHelp()
                && !listed.get(role).contains(o.longestName()))
              problems.add(role + " option " + o.longestName() + " is missing from README's table");
        });
    assertThat(problems).isEmpty();
  }

  @Test
  void theOperatorsFlagTableInDocsMatchesItsOptionsAndTheirVariables() {
    assertThat(flagTableProblems("docs/operator.md", ROLES.get("operator"))).isEmpty();
  }

  /**
   * A {@code | flag | env | default | meaning |} table: each flag an option with that env twin (a
   * cell without one: an option without one), every option listed.
   */
  public static List<String> flagTableProblems(String file, CommandSpec spec) {
    List<String> problems = new ArrayList<>();
    Set<String> listed = new TreeSet<>();
    for (List<String> row : Markdown.table(file, "flag | env | default | meaning")) {
      Set<String> flags = Markdown.all(row.get(0), FLAG);
      Set<String> envs = Markdown.codeSpansOrParenthesised(row.get(1), ENV);
      Set<String> twins = new TreeSet<>();
      for (String flag : flags) {
        OptionSpec o = spec.findOption(flag);
        if (o == null) {
          problems.add(file + ": no option " + flag);
          continue;
        }
        listed.add(o.longestName());
        twins.addAll(envOf(o));
      }
      if (!new TreeSet<>(envs).equals(twins))
        problems.add(
            file + ": " + flags + " documented with env " + envs + ", the code reads " + twins);
    }
    for (OptionSpec o : spec.options())
      if (!o.hidden() && !o.usageHelp() && !o.versionHelp() && !listed.contains(o.longestName()))
        problems.add(file + ": option " + o.longestName() + " is not in the table");
    return problems;
  }

  @Test
  void everyValueDocsHelmNamesExistsInValuesYaml() throws IOException {
    JsonNode values = new YAMLMapper().readTree(Path.of("helm/xenvbd/values.yaml").toFile());
    List<String> missing = new ArrayList<>();
    List<List<String>> rows =
        Markdown.table("docs/helm.md", "value | default | why you would change it");
    for (List<String> row : rows)
      for (String value : Markdown.codeSpans(row.get(0), Pattern.compile("[a-z][A-Za-z0-9.]*"))) {
        JsonNode n = values;
        for (String part : value.split("\\.")) n = n == null ? null : n.get(part);
        if (n == null) missing.add(value);
      }
    assertThat(missing).as("named in docs/helm.md, absent from values.yaml").isEmpty();
    assertThat(rows)
        .as("the agent values this issue added are documented")
        .anySatisfy(r -> assertThat(r.get(0)).contains("agent.importDir"));
    assertThat(rows).anySatisfy(r -> assertThat(r.get(0)).contains("agent.loopReserve"));
  }

  static Set<String> reasons() throws IllegalAccessException {
    Set<String> all = new TreeSet<>();
    for (Field f : Reasons.class.getFields())
      if (Modifier.isStatic(f.getModifiers()) && f.getType() == String.class)
        all.add((String) f.get(null));
    return all;
  }

  @Test
  void everyReasonTheOperatorsTablesNameIsAReasonOfTheCodeAndEveryReasonIsDocumented()
      throws Exception {
    Set<String> code = reasons();
    Set<String> documented = new TreeSet<>();
    for (List<String> row : Markdown.table("docs/operator.md", "type | True | False / Unknown"))
      for (String cell : row.subList(1, row.size()))
        documented.addAll(Markdown.codeSpans(cell, REASON));
    for (List<String> row : Markdown.table("docs/operator.md", "rule | refused with reason"))
      documented.addAll(Markdown.codeSpans(row.get(1), REASON));
    assertThat(documented).as("reasons in docs/operator.md's tables").isSubsetOf(code).isNotEmpty();

    Set<String> spans = new TreeSet<>(Markdown.codeSpans(Markdown.read("README.md")));
    try (var files = Files.list(Path.of("docs"))) {
      for (Path p : files.filter(p -> p.toString().endsWith(".md")).toList())
        spans.addAll(Markdown.codeSpans(Markdown.read(p.toString())));
    }
    Set<String> undocumented = new TreeSet<>(code);
    undocumented.removeAll(spans);
    assertThat(undocumented).as("reasons no doc names").isEmpty();
  }

  @Test
  void theChartsKubeVersionIsTheKubernetesTheSuiteInstallsOnAndTheDocsSaySo() throws IOException {
    Matcher go =
        Pattern.compile("k8s.io/kubernetes v(\\d+\\.\\d+\\.\\d+)")
            .matcher(Files.readString(Path.of("tools/kube/go.mod")));
    assertThat(go.find()).as("tools/kube/go.mod names k8s.io/kubernetes").isTrue();
    String proven = go.group(1);
    String chart =
        new YAMLMapper()
            .readTree(Path.of("helm/xenvbd/Chart.yaml").toFile())
            .get("kubeVersion")
            .asText();
    assertThat(chart).isEqualTo(">=" + proven + "-0");
    assertThat(Markdown.read("docs/helm.md"))
        .contains("`kubeVersion: " + chart + "`")
        .contains("Kubernetes " + proven + " or later");
    assertThat(Markdown.read("README.md")).contains("Kubernetes ≥ " + proven);
  }
}
