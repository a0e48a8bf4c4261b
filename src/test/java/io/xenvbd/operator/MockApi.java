package io.xenvbd.operator;

import io.fabric8.kubernetes.api.model.apiextensions.v1.CustomResourceDefinition;
import io.fabric8.kubernetes.api.model.authorization.v1.SelfSubjectRulesReviewBuilder;
import io.fabric8.kubernetes.client.KubernetesClient;
import io.fabric8.kubernetes.client.server.mock.KubernetesCrudDispatcher;
import io.fabric8.kubernetes.client.server.mock.KubernetesMixedDispatcher;
import io.fabric8.kubernetes.client.server.mock.KubernetesMockServer;
import io.fabric8.mockwebserver.Context;
import io.fabric8.mockwebserver.MockWebServer;
import io.fabric8.mockwebserver.ServerRequest;
import io.fabric8.mockwebserver.ServerResponse;
import java.io.IOException;
import java.io.InputStream;
import java.io.UncheckedIOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.HashMap;
import java.util.Queue;

/**
 * The fabric8 mock API server in CRUD mode, with the two CRDs created through the API from the YAML
 * the build generates (run {@code mvn process-classes} first; the test phase always does).
 */
final class MockApi implements AutoCloseable {
  final KubernetesMockServer server;
  final KubernetesClient client;

  private MockApi(boolean grantLeases) {
    if (grantLeases) {
      // CRUD storage plus one canned answer: the SelfSubjectRulesReview the operator SDK posts
      // before
      // leader election, granting what a Lease lock needs (the plain CRUD mock answers it with 422)
      var responses = new HashMap<ServerRequest, Queue<ServerResponse>>();
      server =
          new KubernetesMockServer(
              new Context(),
              new MockWebServer(),
              responses,
              new KubernetesMixedDispatcher(responses),
              false);
      server.init();
      server
          .expect()
          .post()
          .withPath("/apis/authorization.k8s.io/v1/selfsubjectrulesreviews")
          .andReturn(
              201,
              new SelfSubjectRulesReviewBuilder()
                  .withNewStatus()
                  .withIncomplete(false)
                  .addNewResourceRule()
                  .withApiGroups("coordination.k8s.io")
                  .withResources("leases")
                  .withVerbs("*")
                  .endResourceRule()
                  .endStatus()
                  .build())
          .always();
    } else {
      server =
          new KubernetesMockServer(
              new Context(),
              new MockWebServer(),
              new HashMap<>(),
              new KubernetesCrudDispatcher(),
              false);
      server.init();
    }
    client = server.createClient();
    for (String crd :
        new String[] {"virtualdisks.xenvbd.io-v1.yml", "dom0nodes.xenvbd.io-v1.yml"}) {
      Path file = Path.of("target/classes/META-INF/fabric8", crd);
      try (InputStream in = Files.newInputStream(file)) {
        client
            .resource(
                client.getKubernetesSerialization().unmarshal(in, CustomResourceDefinition.class))
            .create();
      } catch (IOException e) {
        throw new UncheckedIOException(
            "generated CRD " + file + " is missing: run mvn -o -q process-classes", e);
      }
    }
  }

  static MockApi start() {
    return new MockApi(false);
  }

  /** The same, answering the SDK's Lease permission check so that leader election can run. */
  static MockApi startGrantingLeases() {
    return new MockApi(true);
  }

  @Override
  public void close() {
    client.close();
    server.destroy();
  }
}
