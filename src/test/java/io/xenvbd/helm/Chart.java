package io.xenvbd.helm;

import com.marcnuri.helm.Helm;
import com.marcnuri.helm.TemplateCommand;
import io.fabric8.kubernetes.api.model.Container;
import io.fabric8.kubernetes.api.model.EnvVar;
import io.fabric8.kubernetes.api.model.HasMetadata;
import io.fabric8.kubernetes.api.model.apps.DaemonSet;
import io.fabric8.kubernetes.api.model.apps.Deployment;
import io.fabric8.kubernetes.client.utils.Serialization;
import java.io.ByteArrayInputStream;
import java.io.IOException;
import java.io.UncheckedIOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import java.util.Objects;
import java.util.Optional;

/** The chart under test, rendered by real Helm (helm-java bundles the Helm library). */
final class Chart {
  static final Path DIR = Path.of("helm/xenvbd");
  static final String RELEASE = "xv";
  static final String NAMESPACE = "xenvbd-system";
  static final String FULLNAME = "xv-xenvbd";
  // helm template assumes v1.20 without a cluster; the chart needs 1.25 or later.
  static final String KUBE_VERSION = "v1.31.0";

  private Chart() {}

  /**
   * {@code helm template xv helm/xenvbd -n xenvbd-system --kube-version 1.31 -f values.yaml}, the
   * values given as YAML (empty: the chart's defaults), as an admin would write them.
   */
  static String template(String valuesYaml) {
    return template(valuesYaml, KUBE_VERSION);
  }

  /** The same against another Kubernetes version ({@code --kube-version}). */
  static String template(String valuesYaml, String kubeVersion) {
    return template(DIR, RELEASE, NAMESPACE, valuesYaml, kubeVersion);
  }

  /** {@code helm template RELEASE CHART -n NAMESPACE --kube-version V -f values.yaml}. */
  static String template(
      Path chart, String release, String namespace, String valuesYaml, String kubeVersion) {
    Path file = null;
    try {
      TemplateCommand cmd =
          new Helm(chart)
              .template()
              .withName(release)
              .withNamespace(namespace)
              .withKubeVersion(kubeVersion);
      if (!valuesYaml.isBlank()) {
        file = Files.createTempFile("xenvbd-values", ".yaml");
        Files.writeString(file, valuesYaml);
        cmd.withValuesFile(file);
      }
      return cmd.call();
    } catch (IOException e) {
      throw new UncheckedIOException(e);
    } finally {
      if (file != null) file.toFile().delete();
    }
  }

  /** The rendered manifests as Kubernetes objects (unknown kinds become generic resources). */
  static Rendered render(String valuesYaml) {
    return new Rendered(parse(template(valuesYaml)));
  }

  static List<HasMetadata> parse(String yaml) {
    List<HasMetadata> objects =
        Serialization.unmarshal(new ByteArrayInputStream(yaml.getBytes(StandardCharsets.UTF_8)));
    return objects.stream().filter(Objects::nonNull).toList();
  }

  /** What one {@code helm template} printed, with finders for the objects tests look at. */
  record Rendered(List<HasMetadata> objects) {
    <T extends HasMetadata> T one(Class<T> type, String name) {
      return find(type, name)
          .orElseThrow(
              () ->
                  new AssertionError("no " + type.getSimpleName() + " " + name + " in " + names()));
    }

    <T extends HasMetadata> Optional<T> find(Class<T> type, String name) {
      return objects.stream()
          .filter(type::isInstance)
          .map(type::cast)
          .filter(o -> o.getMetadata().getName().equals(name))
          .findFirst();
    }

    List<String> names() {
      return objects.stream().map(o -> o.getKind() + "/" + o.getMetadata().getName()).toList();
    }

    Deployment operator() {
      return one(Deployment.class, FULLNAME + "-operator");
    }

    DaemonSet agent() {
      return one(DaemonSet.class, FULLNAME + "-agent");
    }

    Container operatorContainer() {
      return operator().getSpec().getTemplate().getSpec().getContainers().get(0);
    }

    Container agentContainer() {
      return agent().getSpec().getTemplate().getSpec().getContainers().get(0);
    }
  }

  static EnvVar env(Container c, String name) {
    return c.getEnv().stream()
        .filter(e -> e.getName().equals(name))
        .findFirst()
        .orElseThrow(() -> new AssertionError(c.getName() + " has no env " + name));
  }
}
