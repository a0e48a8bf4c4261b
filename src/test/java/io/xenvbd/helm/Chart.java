package io.xenvbd.helm;

import com.marcnuri.helm.Helm;
import com.marcnuri.helm.TemplateCommand;
import io.fabric8.kubernetes.api.model.HasMetadata;
import io.fabric8.kubernetes.client.utils.Serialization;
import java.io.ByteArrayInputStream;
import java.nio.charset.StandardCharsets;
import java.nio.file.Path;
import java.util.List;
import java.util.Map;
import java.util.Objects;

/** The chart under test, rendered by real Helm (helm-java bundles the Helm library). */
final class Chart {
  static final Path DIR = Path.of("helm/xenvbd");
  static final String RELEASE = "xv";
  static final String NAMESPACE = "xenvbd-system";
  // helm template assumes v1.20 without a cluster; the chart needs 1.25 or later.
  static final String KUBE_VERSION = "v1.31.0";

  private Chart() {}

  /** {@code helm template xv helm/xenvbd -n xenvbd-system --kube-version 1.31 --set k=v ...}. */
  static String template(Map<String, ?> values) {
    TemplateCommand cmd = new Helm(DIR).template().withName(RELEASE).withNamespace(NAMESPACE)
        .withKubeVersion(KUBE_VERSION);
    values.forEach(cmd::set);
    return cmd.call();
  }

  /** The rendered manifests as Kubernetes objects (unknown kinds become generic resources). */
  static List<HasMetadata> render(Map<String, ?> values) {
    return parse(template(values));
  }

  @SuppressWarnings("deprecation")
  static List<HasMetadata> parse(String yaml) {
    List<HasMetadata> objects = Serialization.unmarshal(
        new ByteArrayInputStream(yaml.getBytes(StandardCharsets.UTF_8)));
    return objects.stream().filter(Objects::nonNull).toList();
  }

  static <T extends HasMetadata> T one(List<HasMetadata> objects, Class<T> type, String name) {
    return objects.stream().filter(type::isInstance).map(type::cast)
        .filter(o -> o.getMetadata().getName().equals(name)).findFirst()
        .orElseThrow(() -> new AssertionError("no " + type.getSimpleName() + " " + name + " in "
            + objects.stream().map(o -> o.getKind() + "/" + o.getMetadata().getName()).toList()));
  }
}
