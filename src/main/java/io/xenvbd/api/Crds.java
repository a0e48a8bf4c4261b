package io.xenvbd.api;

import io.fabric8.crd.generator.annotation.AdditionalPrinterColumn;
import io.fabric8.kubernetes.api.model.apiextensions.v1.CustomResourceColumnDefinition;
import io.fabric8.kubernetes.api.model.apiextensions.v1.CustomResourceDefinition;
import io.fabric8.kubernetes.api.model.apiextensions.v1.CustomResourceDefinitionVersion;
import io.fabric8.kubernetes.client.utils.Serialization;
import java.io.IOException;
import java.io.InputStream;
import java.io.UncheckedIOException;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.Comparator;
import java.util.List;

/**
 * The project's CRDs as the build generated them (fabric8's crd-generator writes them to
 * META-INF/fabric8 at process-classes), with one correction: the generator sorts printer columns by
 * JSONPath, and kubectl shows them in CRD order, so they are put back in the order the model
 * declares them (Node, Size, ... Age). Everything that needs a CRD — crds/, the Helm chart, the
 * embedded API server — takes it from here.
 */
public final class Crds {
  private Crds() {}

  public static List<CustomResourceDefinition> all() {
    return List.of(virtualDisk(), dom0Node());
  }

  public static CustomResourceDefinition virtualDisk() {
    return load(VirtualDisk.CRD_NAME, VirtualDisk.class);
  }

  public static CustomResourceDefinition dom0Node() {
    return load(Dom0Node.CRD_NAME, Dom0Node.class);
  }

  /** The committed file name of a CRD under crds/. */
  public static String fileName(CustomResourceDefinition crd) {
    return crd.getMetadata().getName() + ".yaml";
  }

  /** The YAML text committed under crds/. */
  public static String yaml(CustomResourceDefinition crd) {
    return "# Generated from the Java model in io.xenvbd.api; do not edit. Regenerate with:\n"
        + "#   mvn -B test -Dtest=CrdFilesTest -Dxenvbd.updateCrds=true\n"
        + Serialization.asYaml(crd);
  }

  private static CustomResourceDefinition load(String name, Class<?> model) {
    String resource = "/META-INF/fabric8/" + name + "-v1.yml";
    try (InputStream in = Crds.class.getResourceAsStream(resource)) {
      if (in == null) {
        throw new IllegalStateException(
            resource + " is not on the classpath: run the build (mvn process-classes) first");
      }
      CustomResourceDefinition crd = Serialization.unmarshal(in, CustomResourceDefinition.class);
      List<String> order =
          Arrays.stream(model.getAnnotationsByType(AdditionalPrinterColumn.class))
              .map(AdditionalPrinterColumn::name)
              .toList();
      for (CustomResourceDefinitionVersion version : crd.getSpec().getVersions()) {
        List<CustomResourceColumnDefinition> columns =
            new ArrayList<>(version.getAdditionalPrinterColumns());
        columns.sort(Comparator.comparingInt(c -> order.indexOf(c.getName())));
        version.setAdditionalPrinterColumns(columns);
      }
      return crd;
    } catch (IOException e) {
      throw new UncheckedIOException(e);
    }
  }
}
