package io.xenvbd.local;

import io.xenvbd.agent.UrlOptions;
import io.xenvbd.command.Foreground;
import java.net.InetAddress;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import java.util.concurrent.Callable;
import picocli.CommandLine;
import picocli.CommandLine.Command;
import picocli.CommandLine.Option;

/**
 * {@code xenvbd local}: the product on this machine, for trying it and for the end-to-end tests.
 */
@Command(
    name = "local",
    mixinStandardHelpOptions = true,
    description = {
      "Run the whole product on this machine: an embedded Kubernetes API, the operator and"
          + " one node agent, with state, images, kubeconfig and log under --dir. Needs root for loop"
          + " devices and mounts. Ctrl-C stops everything and leaves no mount or loop device behind."
    })
public final class LocalCommand implements Callable<Integer> {

  @Option(
      names = "--dir",
      defaultValue = "${env:XENVBD_DIR:-.xenvbd}",
      description = "State directory (env XENVBD_DIR; default ${DEFAULT-VALUE}).")
  Path dir;

  @Option(
      names = "--allow-source",
      split = ":",
      paramLabel = "PATH",
      defaultValue = "${env:XENVBD_ALLOW_SOURCES}",
      description =
          "Directory that spec.populate.hostPaths may copy from and a spec.populate.archive"
              + " given as a node path may be read from; repeatable, or colon-separated"
              + " (env XENVBD_ALLOW_SOURCES). Nothing is allowed by default.")
  List<Path> allowSources;

  @CommandLine.Mixin UrlOptions urls = new UrlOptions();

  @Option(
      names = "--import-dir",
      paramLabel = "DIR",
      defaultValue = "${env:XENVBD_IMPORT_DIR}",
      description =
          "Directory whose image files (made by hand, e.g. with the dd/mkfs/cp -ax recipe) a VirtualDisk"
              + " may adopt with spec.populate.adopt.importFile; on the same filesystem as --dir, outside it"
              + " (env XENVBD_IMPORT_DIR). Default: none.")
  Path importDir;

  @Option(
      names = "--port",
      defaultValue = "${env:XENVBD_API_PORT:-0}",
      description =
          "Port of the embedded Kubernetes API on 127.0.0.1 (env XENVBD_API_PORT; 0: any free port).")
  int port;

  @Option(
      names = "--node-name",
      defaultValue = "${env:NODE_NAME}",
      description = "Name of this machine's Dom0Node (env NODE_NAME; default: this host's name).")
  String nodeName;

  @Override
  public Integer call() throws Exception {
    String node =
        nodeName != null && !nodeName.isBlank()
            ? nodeName
            : LocalConfig.defaultNodeName(InetAddress.getLocalHost().getHostName());
    LocalConfig config;
    try {
      config = new LocalConfig(dir, allowSources, port, node, urls.policy(), importDir);
    } catch (IllegalArgumentException e) {
      throw new CommandLine.ParameterException(new CommandLine(this), e.getMessage());
    }
    Files.createDirectories(config.dir());
    // Before the first logger exists: the log goes to the state directory, the terminal gets the
    // summary.
    System.setProperty("org.slf4j.simpleLogger.logFile", config.log().toString());
    System.setProperty("org.slf4j.simpleLogger.showDateTime", "true");
    System.setProperty("org.slf4j.simpleLogger.dateTimeFormat", "yyyy-MM-dd'T'HH:mm:ss.SSSZ");

    LocalMode mode = LocalMode.start(config);
    Foreground running =
        Foreground.onStop(
            "xenvbd-local-stop",
            () -> {
              System.out.println(
                  "xenvbd local: stopping (finishing or rolling back work in flight)...");
              mode.close();
              System.out.println("xenvbd local: stopped; no mount or loop device left behind.");
            });
    System.out.printf(
        """
        xenvbd local is running: node %s, Kubernetes API %s
          images:     %s
          log:        %s
          sources:    %s
          URLs:       %s
          import:     %s
          released:   %s

        Next, in another terminal:
          export KUBECONFIG=%s
          kubectl apply -f examples/quickstart.yaml
          kubectl get vd -w
          kubectl wait --for=condition=Ready vd/demo
          kubectl describe vd demo
          kubectl get dom0nodes

        Ctrl-C stops everything.
        """,
        node,
        mode.apiUrl(),
        config.images(),
        config.log(),
        config.allowedSources().isEmpty()
            ? "(none: --allow-source PATH to copy host directories or read archives at node paths)"
            : config.allowedSources(),
        config.urls().allowedPrefixes().isEmpty()
            ? "(none: --allow-url PREFIX to download archives)"
            : config.urls().allowedPrefixes()
                + (config.urls().allowedPrivateHosts().isEmpty()
                    ? ""
                    : ", private hosts " + config.urls().allowedPrivateHosts()),
        config.importDir() == null
            ? "(none: --import-dir DIR to adopt images made by hand)"
            : config.importDir(),
        mode.released()
            + " image(s) found whose VirtualDisk is gone (kubectl get dom0nodes -o yaml lists them under"
            + " status.released; take one back with spec.populate.adopt.name)",
        config.kubeconfig());
    System.out.flush();
    running.await();
    return 0;
  }
}
