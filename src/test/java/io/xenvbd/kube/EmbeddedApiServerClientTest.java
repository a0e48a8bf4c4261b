package io.xenvbd.kube;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;
import static org.awaitility.Awaitility.await;

import io.fabric8.kubernetes.api.model.ConfigMapBuilder;
import io.fabric8.kubernetes.api.model.GenericKubernetesResource;
import io.fabric8.kubernetes.api.model.authorization.v1.SelfSubjectRulesReviewBuilder;
import io.fabric8.kubernetes.api.model.coordination.v1.LeaseBuilder;
import io.fabric8.kubernetes.client.KubernetesClient;
import io.fabric8.kubernetes.client.KubernetesClientException;
import io.fabric8.kubernetes.client.Watch;
import io.fabric8.kubernetes.client.Watcher;
import io.fabric8.kubernetes.client.WatcherException;
import io.fabric8.kubernetes.client.dsl.base.PatchContext;
import io.fabric8.kubernetes.client.dsl.base.PatchType;
import io.fabric8.kubernetes.client.utils.Serialization;
import io.xenvbd.testing.Manifests;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.concurrent.CopyOnWriteArrayList;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.Future;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;

/** The fabric8 client (what the operator and agent use) against the embedded API server. */
class EmbeddedApiServerClientTest {
  static EmbeddedApiServer server;
  static KubernetesClient client;

  @BeforeAll
  static void start() {
    server = EmbeddedApiServer.startWithProjectCrds(0);
    client = server.client();
  }

  @AfterAll
  static void stop() {
    client.close();
    server.close();
  }

  static GenericKubernetesResource create(String name, String size) {
    GenericKubernetesResource vd =
        Serialization.unmarshal(
            Manifests.vm1disk(name, size, "ext4"), GenericKubernetesResource.class);
    return client.genericKubernetesResources(EmbeddedApiServerKubectlTest.VD).resource(vd).create();
  }

  @Test
  void theDefaultNamespaceExistsAndCoreTypesTheOperatorUsesWork() {
    assertThat(client.namespaces().withName("default").get()).isNotNull();
    client
        .configMaps()
        .resource(
            new ConfigMapBuilder()
                .withNewMetadata()
                .withName("cm")
                .endMetadata()
                .addToData("k", "v")
                .build())
        .create();
    assertThat(client.configMaps().withName("cm").get().getData()).containsEntry("k", "v");
    client
        .leases()
        .resource(
            new LeaseBuilder()
                .withNewMetadata()
                .withName("leader")
                .endMetadata()
                .withNewSpec()
                .withHolderIdentity("me")
                .endSpec()
                .build())
        .create();
    assertThat(client.leases().withName("leader").get().getSpec().getHolderIdentity())
        .isEqualTo("me");
  }

  @Test
  void createAppliesSchemaDefaultsAndAWatchSeesChangesAfterItsResourceVersion() {
    GenericKubernetesResource created = create("watched", "1Gi");
    assertThat(((Map<?, ?>) created.getAdditionalProperties().get("spec")).get("reclaimPolicy"))
        .isEqualTo("Delete");
    List<String> seen = new CopyOnWriteArrayList<>();
    try (Watch w =
        client
            .genericKubernetesResources(EmbeddedApiServerKubectlTest.VD)
            .withName("watched")
            .withResourceVersion(created.getMetadata().getResourceVersion())
            .watch(
                new Watcher<>() {
                  @Override
                  public void eventReceived(Action action, GenericKubernetesResource r) {
                    seen.add(action + " " + r.getMetadata().getLabels());
                  }

                  @Override
                  public void onClose(WatcherException cause) {}
                })) {
      client
          .genericKubernetesResources(EmbeddedApiServerKubectlTest.VD)
          .withName("watched")
          .edit(
              r -> {
                r.getMetadata().setLabels(Map.of("step", "1"));
                return r;
              });
      await().atMost(Duration.ofSeconds(10)).until(() -> !seen.isEmpty());
      // No replay of the object as it was at the watch's resourceVersion: only the change.
      assertThat(seen).containsExactly("MODIFIED {step=1}");
    }
    // A closed watch is forgotten: nothing accumulates over a long run.
    await().atMost(Duration.ofSeconds(5)).until(() -> server.openWatches() == 0);
  }

  @Test
  void aSelfSubjectRulesReviewGrantsTheLeasePermissionsLeaderElectionChecks() {
    var review =
        client
            .authorization()
            .v1()
            .selfSubjectRulesReview()
            .create(
                new SelfSubjectRulesReviewBuilder()
                    .withNewSpec()
                    .withNamespace("default")
                    .endSpec()
                    .build());
    assertThat(review.getStatus().getResourceRules())
        .singleElement()
        .satisfies(
            r -> {
              assertThat(r.getVerbs()).containsExactly("*");
              assertThat(r.getResources()).containsExactly("*");
            });
  }

  @Test
  void unknownFieldsFromAnApiClientArePrunedAndCollectionsCanBeDeleted() {
    GenericKubernetesResource vd =
        Serialization.unmarshal(
            Manifests.vm1disk("pruned", "1Gi", "ext4"), GenericKubernetesResource.class);
    @SuppressWarnings("unchecked")
    var spec = (Map<String, Object>) vd.getAdditionalProperties().get("spec");
    spec.put("colour", "red");
    vd.getMetadata().setLabels(Map.of("batch", "x"));
    var vds = client.genericKubernetesResources(EmbeddedApiServerKubectlTest.VD);
    vds.resource(vd).create();
    @SuppressWarnings("unchecked")
    var stored =
        (Map<String, Object>) vds.withName("pruned").get().getAdditionalProperties().get("spec");
    assertThat(stored).doesNotContainKey("colour").containsEntry("size", "1Gi");
    vds.withLabel("batch", "x").delete();
    assertThat(vds.withName("pruned").get()).isNull();
  }

  @Test
  void objectsInANamespaceThatDoesNotExistAreAccepted() {
    client
        .configMaps()
        .inNamespace("elsewhere")
        .resource(new ConfigMapBuilder().withNewMetadata().withName("x").endMetadata().build())
        .create();
    assertThat(client.configMaps().inNamespace("elsewhere").withName("x").get()).isNotNull();
  }

  @Test
  void aStaleUpdateIsAConflictForTheClient() {
    GenericKubernetesResource vd = create("stale", "1Gi");
    client
        .genericKubernetesResources(EmbeddedApiServerKubectlTest.VD)
        .withName("stale")
        .edit(
            r -> {
              r.getMetadata().setLabels(Map.of("a", "b"));
              return r;
            });
    vd.getMetadata().setLabels(Map.of("c", "d"));
    assertThatThrownBy(
            () ->
                client
                    .genericKubernetesResources(EmbeddedApiServerKubectlTest.VD)
                    .resource(vd)
                    .update())
        .isInstanceOfSatisfying(
            KubernetesClientException.class,
            e -> {
              assertThat(e.getCode()).isEqualTo(409);
              assertThat(e.getStatus().getReason()).isEqualTo("Conflict");
            });
  }

  @Test
  void mergePatchReplacesListsAndNullDeletes() {
    create("merge", "1Gi");
    var vds = client.genericKubernetesResources(EmbeddedApiServerKubectlTest.VD).withName("merge");
    vds.subresource("status")
        .patch(
            PatchContext.of(PatchType.JSON_MERGE),
            "{\"status\":{\"phase\":\"Pending\",\"conditions\":[{\"type\":\"Ready\",\"status\":\"False\"}]}}");
    vds.subresource("status")
        .patch(
            PatchContext.of(PatchType.JSON_MERGE),
            "{\"status\":{\"phase\":null,\"conditions\":[{\"type\":\"Ready\",\"status\":\"True\"}]}}");
    @SuppressWarnings("unchecked")
    var status = (Map<String, Object>) vds.get().getAdditionalProperties().get("status");
    assertThat(status).doesNotContainKey("phase");
    assertThat((List<?>) status.get("conditions")).hasSize(1);
    vds.patch(
        PatchContext.of(PatchType.JSON),
        "[{\"op\":\"replace\",\"path\":\"/spec/size\",\"value\":\"2Gi\"}]");
    assertThat(vds.get().getMetadata().getGeneration()).isEqualTo(2L);
  }

  @Test
  void invalidInputIsA422WithOneCausePerField() {
    assertThatThrownBy(() -> create("bad", "-1"))
        .isInstanceOfSatisfying(
            KubernetesClientException.class,
            e -> {
              assertThat(e.getCode()).isEqualTo(422);
              assertThat(e.getStatus().getReason()).isEqualTo("Invalid");
              assertThat(e.getStatus().getDetails().getCauses())
                  .extracting(c -> c.getField())
                  .containsExactly("spec.size");
              assertThat(e.getStatus().getMessage())
                  .startsWith("VirtualDisk.xenvbd.io \"bad\" is invalid: spec.size:");
            });
  }

  /**
   * Patches are computed outside the store's lock and stored only if nothing changed meanwhile:
   * none is lost.
   */
  @Test
  void concurrentPatchesOfOneObjectAreAllApplied() throws Exception {
    create("contended", "1Gi");
    int threads = 6, each = 15;
    ExecutorService pool = Executors.newFixedThreadPool(threads);
    List<Future<?>> done = new ArrayList<>();
    for (int t = 0; t < threads; t++) {
      int thread = t;
      done.add(
          pool.submit(
              () -> {
                for (int i = 0; i < each; i++) {
                  client
                      .genericKubernetesResources(EmbeddedApiServerKubectlTest.VD)
                      .withName("contended")
                      .patch(
                          PatchContext.of(PatchType.JSON_MERGE),
                          "{\"metadata\":{\"annotations\":{\"t" + thread + "-" + i + "\":\"x\"}}}");
                }
                return null;
              }));
    }
    for (var f : done) f.get(60, TimeUnit.SECONDS);
    pool.shutdown();
    var annotations =
        client
            .genericKubernetesResources(EmbeddedApiServerKubectlTest.VD)
            .withName("contended")
            .get()
            .getMetadata()
            .getAnnotations();
    assertThat(annotations.keySet().stream().filter(k -> k.matches("t[0-9]+-[0-9]+")))
        .hasSize(threads * each);
  }

  /**
   * The store's index follows an object through a label change, a delete and a re-create under the
   * same name.
   */
  @Test
  void oneObjectIsFoundByNameThroughRelabelDeleteAndRecreate() {
    var res = client.configMaps().withName("indexed");
    client
        .configMaps()
        .resource(
            new ConfigMapBuilder()
                .withNewMetadata()
                .withName("indexed")
                .endMetadata()
                .addToData("v", "1")
                .build())
        .create();
    res.edit(
        cm -> {
          cm.getMetadata().setLabels(Map.of("a", "b"));
          return cm;
        });
    assertThat(res.get().getMetadata().getLabels()).containsEntry("a", "b");
    assertThat(client.configMaps().withLabel("a", "b").list().getItems())
        .extracting(c -> c.getMetadata().getName())
        .contains("indexed");
    res.delete();
    await().atMost(Duration.ofSeconds(10)).until(() -> res.get() == null);
    assertThatThrownBy(() -> res.edit(cm -> cm)).isInstanceOf(KubernetesClientException.class);
    client
        .configMaps()
        .resource(
            new ConfigMapBuilder()
                .withNewMetadata()
                .withName("indexed")
                .endMetadata()
                .addToData("v", "2")
                .build())
        .create();
    assertThat(res.get().getData()).containsEntry("v", "2");
  }
}
