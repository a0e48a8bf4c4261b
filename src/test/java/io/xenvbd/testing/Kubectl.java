package io.xenvbd.testing;

import java.io.IOException;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;

/**
 * A real kubectl against one kubeconfig, what a user types and what they read back: the machine's
 * /usr/bin/kubectl, or the one built with kube-apiserver (tools/kube).
 */
public final class Kubectl {
  public static final Path SYSTEM = Path.of("/usr/bin/kubectl");
  private static final Duration TIMEOUT = Duration.ofSeconds(120);

  private final Path binary;
  private final Path kubeconfig;

  public Kubectl(Path kubeconfig) {
    this(SYSTEM, kubeconfig);
  }

  public Kubectl(Path binary, Path kubeconfig) {
    this.binary = binary;
    this.kubeconfig = kubeconfig;
  }

  public Exec.Result run(String... args) {
    return runWithInput(null, args);
  }

  /**
   * Runs kubectl with {@code stdin} on its standard input (for {@code -f -}), or none when null.
   */
  public Exec.Result runWithInput(String stdin, String... args) {
    return Exec.run(command(args), stdin, TIMEOUT);
  }

  /** {@code kubectl apply -f -} of a manifest. */
  public Exec.Result apply(String yaml) {
    return runWithInput(yaml, "apply", "-f", "-");
  }

  /** Whether {@code kubectl get vd NAME -n NAMESPACE} finds the VirtualDisk. */
  public boolean exists(String namespace, String name) {
    return run("get", "vd", name, "-n", namespace).exit() == 0;
  }

  /**
   * Starts a kubectl that keeps running (get -w, wait), stdout and stderr merged for the caller.
   */
  public Process start(String... args) throws IOException {
    return new ProcessBuilder(command(args)).redirectErrorStream(true).start();
  }

  /**
   * Starts a kubectl that keeps running, stdout to {@code stdout} and stderr beside it (NAME.err).
   */
  public Process start(Path stdout, String... args) throws IOException {
    Path stderr = stdout.resolveSibling(stdout.getFileName() + ".err");
    return new ProcessBuilder(command(args))
        .redirectOutput(stdout.toFile())
        .redirectError(ProcessBuilder.Redirect.appendTo(stderr.toFile()))
        .start();
  }

  private List<String> command(String... args) {
    List<String> cmd =
        new ArrayList<>(List.of(binary.toString(), "--kubeconfig", kubeconfig.toString()));
    cmd.addAll(List.of(args));
    return cmd;
  }
}
