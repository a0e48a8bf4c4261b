package io.xenvbd.helm;

import static org.assertj.core.api.Assertions.assertThat;

import com.marcnuri.helm.Helm;
import com.marcnuri.helm.Release;
import io.fabric8.kubernetes.api.model.NamespaceBuilder;
import io.fabric8.kubernetes.api.model.Secret;
import java.io.ByteArrayInputStream;
import java.nio.charset.StandardCharsets;
import java.util.Base64;
import java.util.Map;
import java.util.zip.GZIPInputStream;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;

/**
 * Real {@code helm install} and {@code helm upgrade} into an API server: the token and the
 * generated TLS material survive an upgrade (the chart finds them with lookup), so running agents
 * and operators keep trusting each other. Should the chart render a new token, Helm would patch
 * the Secret with a strategic merge patch, which the mock refuses: the test then fails with
 * "cannot patch ... Unsupported Media Type" before its own assertions.
 */
class HelmUpgradeTest {
  private ApiServer api;

  @BeforeEach
  void start() {
    api = new ApiServer();
    api.client.resource(new NamespaceBuilder().withNewMetadata().withName(Chart.NAMESPACE)
        .endMetadata().build()).create();
  }

  @AfterEach
  void stop() {
    api.close();
  }

  @Test
  void upgradeKeepsTheTokenAndTheGeneratedCertificate() {
    Release installed = install();
    assertThat(installed.getStatus()).isEqualTo("deployed");
    Map<String, String> token = secret(HelmSecretsTest.TOKEN).getData();
    Map<String, String> tls = secret(HelmSecretsTest.TLS).getData();
    assertThat(token).containsKey("token");
    assertThat(tls).containsKeys("ca.crt", "tls.crt", "tls.key");

    Release upgraded = upgrade();

    assertThat(upgraded.getStatus()).isEqualTo("deployed");
    assertThat(upgraded.getRevision()).isEqualTo("2");
    assertThat(secret(HelmSecretsTest.TOKEN).getData()).isEqualTo(token);
    assertThat(secret(HelmSecretsTest.TLS).getData()).isEqualTo(tls);
    // What Helm rendered for revision 2 (not only what the API server kept) holds the same values.
    String manifest = storedManifest(2);
    assertThat(manifest).contains("token: " + token.get("token"))
        .contains("tls.crt: " + tls.get("tls.crt"));
  }

  @Test
  void anUpgradeAfterTheTokenSecretWasDeletedGeneratesANewOne() {
    install();
    String before = secret(HelmSecretsTest.TOKEN).getData().get("token");
    api.client.secrets().inNamespace(Chart.NAMESPACE).withName(HelmSecretsTest.TOKEN).delete();

    upgrade();

    assertThat(storedManifest(2)).doesNotContain("token: " + before);
  }

  private Release install() {
    return new Helm(Chart.DIR).install().withName(Chart.RELEASE).withNamespace(Chart.NAMESPACE)
        .withKubeConfigContents(api.kubeconfig()).skipCrds().disableOpenApiValidation().call();
  }

  private Release upgrade() {
    return new Helm(Chart.DIR).upgrade().withName(Chart.RELEASE).withNamespace(Chart.NAMESPACE)
        .withKubeConfigContents(api.kubeconfig()).skipCrds().disableOpenApiValidation().call();
  }

  private Secret secret(String name) {
    Secret s = api.client.secrets().inNamespace(Chart.NAMESPACE).withName(name).get();
    assertThat(s).as("Secret " + name).isNotNull();
    return s;
  }

  /** Helm keeps each revision in a Secret: base64 of gzip of the release JSON. */
  private String storedManifest(int revision) {
    Secret release = secret("sh.helm.release.v1." + Chart.RELEASE + ".v" + revision);
    byte[] once = Base64.getDecoder().decode(release.getData().get("release"));
    byte[] gzip = Base64.getDecoder().decode(once);
    try (var in = new GZIPInputStream(new ByteArrayInputStream(gzip))) {
      String json = new String(in.readAllBytes(), StandardCharsets.UTF_8);
      Map<?, ?> parsed = io.fabric8.kubernetes.client.utils.Serialization.unmarshal(json, Map.class);
      return (String) parsed.get("manifest");
    } catch (java.io.IOException e) {
      throw new java.io.UncheckedIOException(e);
    }
  }
}
