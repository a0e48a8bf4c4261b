package io.xenvbd.command;

import io.fabric8.kubernetes.client.Config;
import io.fabric8.kubernetes.client.KubernetesClient;
import io.fabric8.kubernetes.client.KubernetesClientBuilder;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import picocli.CommandLine.Option;

/**
 * {@code --kubeconfig} of the roles that talk to a Kubernetes API, and the client it gives (a
 * picocli mixin).
 */
public final class KubeconfigOption {
  @Option(
      names = "--kubeconfig",
      defaultValue = "${env:KUBECONFIG}",
      description = "kubeconfig file (env KUBECONFIG). Default: in-cluster service account.")
  Path kubeconfig;

  /** A client from the kubeconfig file, or from the pod's service account when none is given. */
  public KubernetesClient client() throws IOException {
    if (kubeconfig == null) return new KubernetesClientBuilder().build();
    return new KubernetesClientBuilder()
        .withConfig(Config.fromKubeconfig(Files.readString(kubeconfig)))
        .build();
  }
}
