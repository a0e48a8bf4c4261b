package io.xenvbd.operator;

import io.fabric8.kubernetes.api.model.apiextensions.v1.CustomResourceDefinition;
import io.fabric8.kubernetes.client.KubernetesClient;
import io.fabric8.kubernetes.client.server.mock.KubernetesCrudDispatcher;
import io.fabric8.kubernetes.client.server.mock.KubernetesMockServer;
import io.fabric8.mockwebserver.Context;
import io.fabric8.mockwebserver.MockWebServer;
import java.io.IOException;
import java.io.InputStream;
import java.io.UncheckedIOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.HashMap;

/**
 * The fabric8 mock API server in CRUD mode, with the two CRDs created through the API from the YAML
 * the build generates (run {@code mvn process-classes} first; the test phase always does).
 */
final class MockApi implements AutoCloseable {
  final KubernetesMockServer server;
  final KubernetesClient client;

  private MockApi() {
    server = new KubernetesMockServer(new Context(), new MockWebServer(), new HashMap<>(), new KubernetesCrudDispatcher(), false);
    server.init();
    client = server.createClient();
    for (String crd : new String[] {"virtualdisks.xenvbd.io-v1.yml", "dom0nodes.xenvbd.io-v1.yml"}) {
      Path file = Path.of("target/classes/META-INF/fabric8", crd);
      try (InputStream in = Files.newInputStream(file)) {
        client.resource(client.getKubernetesSerialization().unmarshal(in, CustomResourceDefinition.class)).create();
      } catch (IOException e) {
        throw new UncheckedIOException("generated CRD " + file + " is missing: run mvn -o -q process-classes", e);
      }
    }
  }

  static MockApi start() {
    return new MockApi();
  }

  @Override
  public void close() {
    client.close();
    server.destroy();
  }
}
