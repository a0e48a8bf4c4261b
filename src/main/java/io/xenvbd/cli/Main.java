package io.xenvbd.cli;

import io.xenvbd.api.BuildInfo;
import picocli.CommandLine;
import picocli.CommandLine.Command;

/** The one program: {@code xenvbd operator | agent | local}. */
@Command(name = "xenvbd", mixinStandardHelpOptions = true, versionProvider = Main.Version.class,
    description = "File-backed Xen virtual disks as a Kubernetes API.",
    subcommands = {io.xenvbd.operator.OperatorCommand.class, io.xenvbd.agent.AgentCommand.class,
        io.xenvbd.local.LocalCommand.class, CommandLine.HelpCommand.class})
public final class Main implements Runnable {

  @CommandLine.Spec CommandLine.Model.CommandSpec spec;

  public static void main(String[] args) {
    System.exit(commandLine().execute(args));
  }

  public static CommandLine commandLine() {
    return new CommandLine(new Main()).setCaseInsensitiveEnumValuesAllowed(true);
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
}
