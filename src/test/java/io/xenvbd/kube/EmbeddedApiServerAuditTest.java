package io.xenvbd.kube;

import static org.assertj.core.api.Assertions.assertThat;
import static org.awaitility.Awaitility.await;

import io.fabric8.kubernetes.api.model.ConfigMap;
import io.fabric8.kubernetes.api.model.ConfigMapBuilder;
import io.fabric8.kubernetes.api.model.authorization.v1.SelfSubjectRulesReviewBuilder;
import io.fabric8.kubernetes.client.KubernetesClient;
import io.fabric8.kubernetes.client.KubernetesClientBuilder;
import io.fabric8.kubernetes.client.Watch;
import io.fabric8.kubernetes.client.Watcher;
import io.fabric8.kubernetes.client.WatcherException;
import io.fabric8.kubernetes.client.dsl.base.PatchContext;
import io.fabric8.kubernetes.client.dsl.base.PatchType;
import java.util.List;
import java.util.Map;
import org.junit.jupiter.api.Test;

/**
 * The audit record: each request as an authorizer names it, attributed to the client's User-Agent.
 */
class EmbeddedApiServerAuditTest {

  @Test
  void everyVerbIsRecordedWithItsResourceAndWhoAsked() {
    try (EmbeddedApiServer api = EmbeddedApiServer.startWithProjectCrds(0);
        KubernetesClient c =
            new KubernetesClientBuilder()
                .withConfig(api.clientConfig().withUserAgent("audit-test").build())
                .build()) {
      api.clearAudit();
      var maps = c.configMaps().inNamespace("default");
      maps.resource(new ConfigMapBuilder().withNewMetadata().withName("a").endMetadata().build())
          .create();
      maps.withName("a").get();
      maps.list();
      ConfigMap a = maps.withName("a").get();
      a.setData(Map.of("k", "v"));
      maps.resource(a).update();
      maps.withName("a").patch(PatchContext.of(PatchType.JSON_MERGE), "{\"data\":{\"k\":\"w\"}}");
      Watch w =
          maps.watch(
              new Watcher<>() {
                @Override
                public void eventReceived(Action action, ConfigMap resource) {}

                @Override
                public void onClose(WatcherException cause) {}
              });
      w.close();
      maps.withName("a").delete();
      maps.delete();
      c.authorization()
          .v1()
          .selfSubjectRulesReview()
          .create(
              new SelfSubjectRulesReviewBuilder()
                  .withNewSpec()
                  .withNamespace("default")
                  .endSpec()
                  .build());

      await()
          .untilAsserted(
              () -> assertThat(api.audit()).filteredOn(e -> e.verb().equals("watch")).isNotEmpty());
      List<AuditEvent> seen = api.audit();
      assertThat(seen).allSatisfy(e -> assertThat(e.userAgent()).isEqualTo("audit-test"));
      // a subsequence: the client may read on its own before some writes (it does before a patch)
      assertThat(seen)
          .extracting(
              e ->
                  e.verb()
                      + " "
                      + e.apiGroup()
                      + "/"
                      + e.rbacResource()
                      + " "
                      + e.namespace()
                      + " "
                      + e.name())
          .containsSubsequence(
              "create /configmaps default null",
              "get /configmaps default a",
              "list /configmaps default null",
              "get /configmaps default a",
              "update /configmaps default a",
              "patch /configmaps default a",
              "watch /configmaps default null",
              "delete /configmaps default a",
              "deletecollection /configmaps default null",
              "create authorization.k8s.io/selfsubjectrulesreviews null null");
      assertThat(seen)
          .extracting(AuditEvent::verb)
          .containsOnly(
              "create", "get", "list", "update", "patch", "watch", "delete", "deletecollection");
      api.clearAudit();
      assertThat(api.audit()).isEmpty();
    }
  }

  @Test
  void theLogKeepsOnlyTheNewestEvents() {
    AuditLog log = new AuditLog(3);
    for (int i = 0; i < 5; i++) {
      log.add(new AuditEvent("ua", "get", "", "configmaps", null, "default", "n" + i));
    }
    assertThat(log.snapshot()).extracting(AuditEvent::name).containsExactly("n2", "n3", "n4");
  }
}
