package io.xenvbd.helm;

import io.fabric8.kubernetes.api.model.GenericKubernetesResource;
import io.fabric8.kubernetes.api.model.HasMetadata;
import io.fabric8.kubernetes.api.model.NamespaceBuilder;
import io.fabric8.kubernetes.api.model.apiextensions.v1.CustomResourceDefinition;
import io.fabric8.kubernetes.api.model.apiextensions.v1.CustomResourceDefinitionBuilder;
import io.fabric8.kubernetes.client.KubernetesClient;
import io.fabric8.kubernetes.client.dsl.base.ResourceDefinitionContext;
import java.io.IOException;
import java.io.InputStream;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.stream.Stream;

/**
 * Installs rendered objects into the fabric8 mock API server in CRUD mode: the chart's own CRDs
 * first (as {@code helm install} does from crds/), then every templated object, read back after.
 */
final class MockCluster {
  /**
   * The other operators' APIs the chart may use (cert-manager, Prometheus Operator). Only their
   * names and scope matter to the API server here; their own charts install the real CRDs.
   */
  private static final List<ResourceDefinitionContext> FOREIGN =
      List.of(
          context("cert-manager.io", "v1", "Certificate", "certificates"),
          context("cert-manager.io", "v1", "Issuer", "issuers"),
          context("monitoring.coreos.com", "v1", "ServiceMonitor", "servicemonitors"));

  private final KubernetesClient client;
  private final Map<String, ResourceDefinitionContext> contexts = new HashMap<>();

  MockCluster(KubernetesClient client) {
    this.client = client;
    FOREIGN.forEach(c -> contexts.put(c.getGroup() + "/" + c.getVersion() + "/" + c.getKind(), c));
  }

  /** Creates the chart's CRDs and the foreign ones; returns the chart's. */
  List<CustomResourceDefinition> installCrds() throws IOException {
    List<CustomResourceDefinition> ours = new ArrayList<>();
    try (Stream<Path> files = Files.list(Chart.DIR.resolve("crds"))) {
      for (Path file : files.sorted().toList()) {
        try (InputStream in = Files.newInputStream(file)) {
          for (HasMetadata o : client.load(in).items()) {
            ours.add((CustomResourceDefinition) client.resource(o).create());
          }
        }
      }
    }
    for (ResourceDefinitionContext c : FOREIGN) {
      client.apiextensions().v1().customResourceDefinitions().resource(crd(c)).create();
    }
    return ours;
  }

  /** Creates every object in the mock API, then reads each back; returns what was read. */
  List<HasMetadata> createAll(List<HasMetadata> objects) {
    client
        .resource(
            new NamespaceBuilder()
                .withNewMetadata()
                .withName(Chart.NAMESPACE)
                .endMetadata()
                .build())
        .createOr(existing -> existing.update());
    List<HasMetadata> readBack = new ArrayList<>();
    for (HasMetadata o : objects) {
      if (o instanceof GenericKubernetesResource g) {
        var resources = client.genericKubernetesResources(contextOf(g));
        var ops =
            g.getMetadata().getNamespace() == null
                ? resources.resource(g)
                : resources.inNamespace(g.getMetadata().getNamespace()).resource(g);
        ops.create();
        readBack.add(ops.get());
      } else {
        client.resource(o).create();
        readBack.add(client.resource(o).get());
      }
    }
    return readBack;
  }

  private ResourceDefinitionContext contextOf(GenericKubernetesResource g) {
    String[] gv = g.getApiVersion().split("/");
    ResourceDefinitionContext c = contexts.get(gv[0] + "/" + gv[1] + "/" + g.getKind());
    if (c == null) {
      throw new AssertionError(
          "the chart renders "
              + g.getApiVersion()
              + " "
              + g.getKind()
              + ", an API this test does not know; add it to MockCluster.FOREIGN");
    }
    return c;
  }

  private static ResourceDefinitionContext context(
      String group, String version, String kind, String plural) {
    return new ResourceDefinitionContext.Builder()
        .withGroup(group)
        .withVersion(version)
        .withKind(kind)
        .withPlural(plural)
        .withNamespaced(true)
        .build();
  }

  private static CustomResourceDefinition crd(ResourceDefinitionContext c) {
    return new CustomResourceDefinitionBuilder()
        .withNewMetadata()
        .withName(c.getPlural() + "." + c.getGroup())
        .endMetadata()
        .withNewSpec()
        .withGroup(c.getGroup())
        .withScope("Namespaced")
        .withNewNames()
        .withKind(c.getKind())
        .withPlural(c.getPlural())
        .endNames()
        .addNewVersion()
        .withName(c.getVersion())
        .withServed(true)
        .withStorage(true)
        .withNewSchema()
        .withNewOpenAPIV3Schema()
        .withType("object")
        .withXKubernetesPreserveUnknownFields(true)
        .endOpenAPIV3Schema()
        .endSchema()
        .endVersion()
        .endSpec()
        .build();
  }
}
