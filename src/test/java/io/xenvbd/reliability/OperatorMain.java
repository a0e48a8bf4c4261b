package io.xenvbd.reliability;

import io.fabric8.kubernetes.client.Config;
import io.fabric8.kubernetes.client.KubernetesClient;
import io.fabric8.kubernetes.client.KubernetesClientBuilder;
import io.xenvbd.local.Wiring;
import io.xenvbd.operator.XenvbdOperator;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;

/**
 * The operator in a JVM of its own, so that a test can SIGKILL it mid-reconcile (the {@code xenvbd
 * operator} subcommand is being finished on another branch; this starts the same XenvbdOperator
 * with the same wiring). Arguments: kubeconfig, token file, CA certificate.
 */
public final class OperatorMain {
  private OperatorMain() {}

  public static void main(String[] args) throws Exception {
    Config config = Config.fromKubeconfig(Files.readString(Path.of(args[0])));
    KubernetesClient client = new KubernetesClientBuilder().withConfig(config).build();
    String token = Files.readString(Path.of(args[1])).strip();
    XenvbdOperator.start(client, Rig.fastOperator(), Wiring.agentClients(token, Path.of(args[2])));
    System.out.println("operator started");
    Thread.currentThread().join();
  }

  /** Starts it as a child JVM on the test classpath, output appended to {@code log}. */
  static Process launch(Rig rig, Path log) throws IOException {
    String cp =
        System.getProperty("surefire.test.class.path", System.getProperty("java.class.path"));
    return new ProcessBuilder(
            "java",
            "-Xmx256m",
            "-XX:TieredStopAtLevel=1",
            "-cp",
            cp,
            OperatorMain.class.getName(),
            rig.kubeconfig.toString(),
            rig.tokenFile.toString(),
            rig.tls.caCert().toString())
        .redirectErrorStream(true)
        .redirectOutput(ProcessBuilder.Redirect.appendTo(log.toFile()))
        .start();
  }
}
