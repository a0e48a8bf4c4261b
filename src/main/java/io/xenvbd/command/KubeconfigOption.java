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
 * picocli mixin). Found as kubectl finds it: the one file given, else every file the {@code
 * KUBECONFIG} list names, merged, else {@code ~/.kube/config}, else the pod's service account.
 */
public final class KubeconfigOption {
  @Option(
      names = "--kubeconfig",
      paramLabel = "FILE",
      description =
          "kubeconfig file; only this file is read, as with kubectl --kubeconfig. Default, as"
              + " kubectl: the files in env KUBECONFIG (colon-separated, merged: the first file to"
              + " set a value wins, missing files skipped), else ~/.kube/config, else the pod's"
              + " in-cluster service account.")
  Path kubeconfig;

  /** A client from the kubeconfig found as kubectl finds it. */
  public KubernetesClient client() throws IOException {
    return new KubernetesClientBuilder().withConfig(config()).build();
  }

  Config config() throws IOException {
    // KUBECONFIG (a list, merged), then ~/.kube/config, then the service account: fabric8 reads
    // them in kubectl's order
    if (kubeconfig == null) return Config.autoConfigure(null);
    if (!Files.isRegularFile(kubeconfig))
      throw new IOException(
          "--kubeconfig "
              + kubeconfig
              + " is not a file: give the path of one kubeconfig file, or leave the flag out to use"
              + " KUBECONFIG, ~/.kube/config or the pod's service account");
    return Config.fromKubeconfig(kubeconfig.toFile());
  }
}
