package io.xenvbd.cli;

import io.xenvbd.agent.AgentCommand;
import io.xenvbd.api.BuildInfo;
import io.xenvbd.operator.OperatorCommand;
import java.util.List;
import java.util.concurrent.Callable;
import picocli.CommandLine;
import picocli.CommandLine.Command;

/**
 * The one program: {@code xenvbd operator | agent | local}. Each role owns its command; this class
 * only wires them. Local mode is looked up by name because the node jar (the operator and agent
 * image) leaves it out, with the embedded Kubernetes API it runs.
 */
@Command(
    name = "xenvbd",
    mixinStandardHelpOptions = true,
    versionProvider = Main.Version.class,
    description = "File-backed Xen virtual disks as a Kubernetes API.")
public final class Main implements Runnable {
  static final String LOCAL_COMMAND = "io.xenvbd.local.LocalCommand";

  @CommandLine.Spec CommandLine.Model.CommandSpec spec;

  public static void main(String[] args) {
    System.exit(commandLine().execute(args));
  }

  public static CommandLine commandLine() {
    return new CommandLine(new Main())
        .addSubcommand(new OperatorCommand())
        .addSubcommand(new AgentCommand())
        .addSubcommand(localCommand())
        .addSubcommand(new CommandLine.HelpCommand())
        .setCaseInsensitiveEnumValuesAllowed(true);
  }

  /** Local mode's command, or, in the node jar, a command that says where local mode is. */
  static Object localCommand() {
    try {
      return Class.forName(LOCAL_COMMAND).getConstructor().newInstance();
    } catch (ClassNotFoundException e) {
      return new NoLocalMode();
    } catch (ReflectiveOperationException e) {
      throw new IllegalStateException("cannot make " + LOCAL_COMMAND + ": " + e, e);
    }
  }

  @Override
  public void run() {
    spec.commandLine().usage(System.out);
  }

  static final class Version implements CommandLine.IVersionProvider {
    @Override
    public String[] getVersion() {
      return new String[] {"xenvbd " + BuildInfo.version()};
    }
  }

  /** {@code local} in the node jar, whatever its arguments. */
  @Command(
      name = "local",
      description = "Not in this jar: local mode runs from the full jar, xenvbd.jar.")
  static final class NoLocalMode implements Callable<Integer> {
    static final String MESSAGE =
        "xenvbd local: this is the node jar (xenvbd-node.jar, the operator and agent"
            + " image), which leaves local mode out; run it from the full jar: java -jar target/xenvbd.jar local";

    @CommandLine.Unmatched List<String> ignored;

    @Override
    public Integer call() {
      System.err.println(MESSAGE);
      return 1;
    }
  }
}
