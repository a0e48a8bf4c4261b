package io.xenvbd.helm;

import static org.assertj.core.api.Assertions.assertThat;

import io.fabric8.kubernetes.api.model.Container;
import io.fabric8.kubernetes.api.model.ContainerPort;
import io.fabric8.kubernetes.api.model.PodSpec;
import io.fabric8.kubernetes.api.model.VolumeMount;
import io.fabric8.kubernetes.api.model.apps.DaemonSet;
import io.xenvbd.cli.Main;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.regex.Matcher;
import java.util.regex.Pattern;
import javax.xml.parsers.DocumentBuilderFactory;
import javax.xml.xpath.XPathFactory;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import picocli.CommandLine;
import picocli.CommandLine.Model.OptionSpec;

/**
 * The chart and the image in step: what the rendered containers pass (args, environment, ports,
 * user, mounts) is what the Dockerfile's image and the jar's picocli commands accept. Every
 * rendered environment variable must be an option's environment twin of the subcommand the
 * container runs, and its value must convert as that option's type; a mismatch fails here, before
 * any cluster.
 */
class ChartMatchesImageTest {
  private static final Pattern ENV_TWIN = Pattern.compile("\\$\\{env:([A-Za-z_][A-Za-z0-9_]*)");

  /** Downward-API values as a kubelet would fill them in. */
  private static final Map<String, String> FIELDS =
      Map.of(
          "spec.nodeName",
          "dom0-a",
          "status.hostIP",
          "10.0.0.5",
          "metadata.name",
          "xv-xenvbd-operator-0",
          "metadata.namespace",
          Chart.NAMESPACE);

  static List<String> dockerfile;

  /**
   * Every optional value switched on, and per-node identities, so that every variable and mount the
   * chart can set is rendered.
   */
  static List<Chart.Rendered> renders;

  @BeforeAll
  static void read() throws Exception {
    DockerfileTest.read(); // its only(...) reads the Dockerfile's instructions from there
    dockerfile = DockerfileTest.instructions;
    renders =
        List.of(
            Chart.render(""),
            Chart.render(
                """
        operator: {watchNamespaces: [a, b]}
        agent: {allowSources: [/srv/rootfs, /srv/other], allowUrls: ["https://mirror.example/"], allowPrivateHosts: [mirror.internal]}
        """),
            Chart.render(
                "agent: {nodes: [{name: dom0-a, ips: [10.0.0.5]}], hostNetwork: false, port: 9443}"));
  }

  @Test
  void eachContainerRunsASubcommandOfTheJarThroughTheImagesEntrypoint() throws Exception {
    String jar = copyDestination();
    assertThat(DockerfileTest.only("ENTRYPOINT")).isEqualTo("[\"java\",\"-jar\",\"" + jar + "\"]");
    var pom = DocumentBuilderFactory.newInstance().newDocumentBuilder().parse("pom.xml");
    String mainClass =
        XPathFactory.newInstance()
            .newXPath()
            .evaluate("//plugin[artifactId='maven-shade-plugin']//transformer/mainClass", pom);
    assertThat(mainClass).as("the jar's Main-Class").isEqualTo(Main.class.getName());
    for (Chart.Rendered r : renders) {
      for (Container c : containers(r)) {
        assertThat(c.getCommand())
            .as("%s keeps the image's ENTRYPOINT", c.getName())
            .isNullOrEmpty();
        assertThat(c.getArgs()).as("%s args", c.getName()).hasSize(1);
        assertThat(Main.commandLine().getSubcommands())
            .as("subcommands of the jar")
            .containsKey(c.getArgs().get(0));
      }
    }
  }

  @Test
  void everyEnvironmentVariableIsAnOptionsTwinOfTheSubcommandAndItsValueConverts() {
    for (Chart.Rendered r : renders) {
      for (Container c : containers(r)) {
        Map<String, OptionSpec> twins = envTwins(c.getArgs().get(0));
        Map<String, String> env = resolvedEnv(c);
        List<String> referenced = PodmanPod.references(c.getEnv());
        for (String name : env.keySet()) {
          if (referenced.contains(name))
            continue; // HOST_IP: only there to build $(HOST_IP) into another value
          assertThat(twins)
              .as(
                  "%s sets %s: no option of `xenvbd %s` reads it (its twins: %s)",
                  c.getName(), name, c.getArgs().get(0), twins.keySet())
              .containsKey(name);
        }
        assertThat(referenced)
            .as("%s: $(VAR) references resolve to variables defined before them", c.getName())
            .allMatch(env::containsKey);
        parseAsTheJarWould(c.getArgs().get(0), env);
      }
    }
  }

  @Test
  void theImagesUserIsTheOperatorsAndTheAgentRunsAsRoot() {
    String[] user = DockerfileTest.only("USER").split(":");
    String created =
        dockerfile.stream().filter(i -> i.contains("useradd")).findFirst().orElseThrow();
    assertThat(created).contains("--uid " + user[0]).contains("--gid " + user[1]);
    for (Chart.Rendered r : renders) {
      PodSpec operator = r.operator().getSpec().getTemplate().getSpec();
      assertThat(operator.getSecurityContext().getRunAsUser()).isEqualTo(Long.parseLong(user[0]));
      assertThat(operator.getSecurityContext().getRunAsGroup()).isEqualTo(Long.parseLong(user[1]));
      for (PodSpec agent : agentPods(r))
        assertThat(agent.getContainers().get(0).getSecurityContext().getRunAsUser()).isZero();
    }
  }

  @Test
  void thePortsTheContainersDeclareAreTheOnesTheJarListensOnAndTheImageExposes() {
    List<String> exposed = List.of(DockerfileTest.only("EXPOSE").split("\\s+"));
    Chart.Rendered defaults = renders.get(0);
    assertThat(exposed)
        .as("the image exposes the chart's default ports")
        .contains(
            port(defaults.operatorContainer(), "management") + "",
            port(defaults.agentContainer(), "https") + "");
    for (Chart.Rendered r : renders) {
      Container operator = r.operatorContainer();
      assertThat(resolvedEnv(operator).get("XENVBD_MANAGEMENT_PORT"))
          .isEqualTo(port(operator, "management") + "");
      for (PodSpec pod : agentPods(r)) {
        Container agent = pod.getContainers().get(0);
        Map<String, String> env = resolvedEnv(agent);
        int https = port(agent, "https");
        assertThat(env.get("XENVBD_LISTEN")).endsWith(":" + https);
        assertThat(env.get("XENVBD_ADVERTISE")).isEqualTo("https://10.0.0.5:" + https);
      }
      for (Container c : containers(r)) {
        for (var probe : List.of(c.getLivenessProbe(), c.getReadinessProbe())) {
          String name = probe.getHttpGet().getPort().getStrVal();
          assertThat(c.getPorts())
              .as("%s's probe port %s", c.getName(), name)
              .anyMatch(p -> name.equals(p.getName()));
        }
      }
    }
  }

  @Test
  void everyPathTheChartGivesTheJarIsMountedAndNoMountHidesTheImagesOwnFiles() {
    String jarDir = Path.of(copyDestination()).getParent().toString();
    for (Chart.Rendered r : renders) {
      for (Container c : containers(r)) {
        Map<String, OptionSpec> twins = envTwins(c.getArgs().get(0));
        List<String> mounts = c.getVolumeMounts().stream().map(VolumeMount::getMountPath).toList();
        for (var e : resolvedEnv(c).entrySet()) {
          OptionSpec option = twins.get(e.getKey());
          if (option == null || !isPath(option)) continue;
          for (String path : e.getValue().split(":")) {
            assertThat(mounts)
                .as("%s: %s=%s is in a volume", c.getName(), e.getKey(), path)
                .anyMatch(m -> Path.of(path).startsWith(m));
          }
        }
        for (String m : mounts) {
          assertThat(Path.of(m).isAbsolute()).as(m).isTrue();
          assertThat(Path.of(jarDir).startsWith(m))
              .as("%s mounts %s over the jar in %s", c.getName(), m, jarDir)
              .isFalse();
          for (String system :
              List.of(
                  "/",
                  "/usr",
                  "/etc",
                  "/bin",
                  "/sbin",
                  "/lib",
                  "/opt",
                  "/var/lib/dpkg",
                  "/proc",
                  "/sys")) {
            assertThat(m)
                .as("%s mounts over the image's %s", c.getName(), system)
                .isNotEqualTo(system);
          }
        }
      }
      var operator = r.operatorContainer();
      assertThat(operator.getSecurityContext().getReadOnlyRootFilesystem()).isTrue();
      assertThat(operator.getVolumeMounts())
          .as("the JVM's java.io.tmpdir is writable on the read-only root")
          .anyMatch(m -> m.getMountPath().equals("/tmp") && !Boolean.TRUE.equals(m.getReadOnly()));
    }
  }

  /** The Dockerfile's `COPY <jar> <destination>` destination. */
  static String copyDestination() {
    String[] copy = DockerfileTest.only("COPY").split("\\s+");
    return copy[copy.length - 1];
  }

  static List<Container> containers(Chart.Rendered r) {
    List<Container> all = new ArrayList<>(List.of(r.operatorContainer()));
    for (PodSpec pod : agentPods(r)) all.add(pod.getContainers().get(0));
    return all;
  }

  static List<PodSpec> agentPods(Chart.Rendered r) {
    return r.objects().stream()
        .filter(DaemonSet.class::isInstance)
        .map(d -> ((DaemonSet) d).getSpec().getTemplate().getSpec())
        .toList();
  }

  static int port(Container c, String name) {
    return c.getPorts().stream()
        .filter(p -> name.equals(p.getName()))
        .map(ContainerPort::getContainerPort)
        .findFirst()
        .orElseThrow(() -> new AssertionError(c.getName() + " declares no port " + name));
  }

  static Map<String, String> resolvedEnv(Container c) {
    return PodmanPod.kubeletEnv(c.getEnv(), FIELDS);
  }

  /**
   * Environment twin name to option, read from the options' uninterpolated defaults
   * (`${env:NAME:-...}`).
   */
  static Map<String, OptionSpec> envTwins(String subcommand) {
    CommandLine cmd = Main.commandLine().getSubcommands().get(subcommand);
    if (cmd == null)
      throw new AssertionError(
          "the jar has no subcommand "
              + subcommand
              + ": "
              + Main.commandLine().getSubcommands().keySet());
    cmd.setInterpolateVariables(false);
    Map<String, OptionSpec> twins = new HashMap<>();
    for (OptionSpec o : cmd.getCommandSpec().options()) {
      if (o.defaultValue() == null) continue;
      Matcher m = ENV_TWIN.matcher(o.defaultValue());
      if (m.find()) twins.put(m.group(1), o);
    }
    return twins;
  }

  static boolean isPath(OptionSpec o) {
    return o.type() == Path.class
        || (o.auxiliaryTypes().length > 0 && o.auxiliaryTypes()[0] == Path.class);
  }

  /**
   * Parses the subcommand with {@code env} as its environment twins' values (a default value
   * provider in place of the process environment): each value goes through its option's type
   * conversion and split, as it does in the pod.
   */
  static void parseAsTheJarWould(String subcommand, Map<String, String> env) {
    Map<OptionSpec, String> byOption = new HashMap<>();
    envTwins(subcommand)
        .forEach(
            (name, option) -> {
              if (env.containsKey(name)) byOption.put(option, env.get(name));
            });
    // The provider is asked with the OptionSpecs of the command being parsed: match them by name.
    Map<String, String> byName = new HashMap<>();
    byOption.forEach((o, v) -> byName.put(o.longestName(), v));
    CommandLine main = Main.commandLine();
    main.setDefaultValueProvider(
        arg ->
            arg instanceof OptionSpec o
                    && arg.command().name().equals(subcommand)
                    && byName.containsKey(o.longestName())
                ? byName.get(o.longestName())
                : null);
    CommandLine.ParseResult parsed;
    try {
      parsed = main.parseArgs(subcommand);
    } catch (CommandLine.ParameterException e) {
      throw new AssertionError(
          "`xenvbd "
              + subcommand
              + "` refuses the chart's environment "
              + env
              + ": "
              + e.getMessage(),
          e);
    }
    for (OptionSpec o : parsed.subcommand().commandSpec().options()) {
      if (byName.containsKey(o.longestName())) {
        assertThat((Object) o.getValue())
            .as("%s from the chart's value %s", o.longestName(), byName.get(o.longestName()))
            .isNotNull();
      }
    }
  }
}
