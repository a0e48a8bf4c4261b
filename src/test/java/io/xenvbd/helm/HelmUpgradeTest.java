package io.xenvbd.helm;

import static io.xenvbd.testing.RealKubeApiServer.ADMIN;
import static org.assertj.core.api.Assertions.assertThat;

import com.marcnuri.helm.Helm;
import com.marcnuri.helm.Release;
import io.fabric8.kubernetes.api.model.NamespaceBuilder;
import io.fabric8.kubernetes.api.model.Secret;
import io.fabric8.kubernetes.client.KubernetesClient;
import io.fabric8.kubernetes.client.utils.Serialization;
import io.xenvbd.testing.RealKubeApiServer;
import io.xenvbd.testing.RequiresKubeApiServer;
import java.io.ByteArrayInputStream;
import java.io.IOException;
import java.io.UncheckedIOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.security.cert.X509Certificate;
import java.util.Base64;
import java.util.Map;
import java.util.zip.GZIPInputStream;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * Real {@code helm install} and {@code helm upgrade} into the real kube-apiserver: the token and
 * the generated TLS material survive an upgrade (the chart finds them with lookup), so running
 * agents and operators keep trusting each other. Helm upgrades with its own three-way strategic
 * merge patch, as on a cluster. A release name and a namespace per test of their own, uninstalled
 * after each, so the classes sharing the server are not disturbed.
 */
@RequiresKubeApiServer
class HelmUpgradeTest {
  static final String RELEASE = "hu";
  static final String FULLNAME = RELEASE + "-xenvbd";
  static final String TOKEN = FULLNAME + "-agent-token";
  static final String TLS = FULLNAME + "-agent-tls";
  private static int namespaces;
  private KubernetesClient admin;
  private String kubeconfig;
  private String namespace;
  @TempDir Path dir;

  @BeforeEach
  void start(RealKubeApiServer kube) throws Exception {
    admin = kube.client(ADMIN);
    kubeconfig = Files.readString(kube.kubeconfig(ADMIN));
    namespace = "helm-upgrade-" + ++namespaces;
    admin
        .resource(
            new NamespaceBuilder().withNewMetadata().withName(namespace).endMetadata().build())
        .create();
  }

  @AfterEach
  void stop() {
    Helm.uninstall(RELEASE).withNamespace(namespace).withKubeConfigContents(kubeconfig).call();
    admin.close();
  }

  @Test
  void upgradeKeepsTheTokenAndTheGeneratedCertificate() {
    Release installed = install();
    assertThat(installed.getStatus()).isEqualTo("deployed");
    Map<String, String> token = secret(TOKEN).getData();
    Map<String, String> tls = secret(TLS).getData();
    assertThat(token).containsKey("token");
    assertThat(tls).containsKeys("ca.crt", "tls.crt", "tls.key");

    Release upgraded = upgrade();

    assertThat(upgraded.getStatus()).isEqualTo("deployed");
    assertThat(upgraded.getRevision()).isEqualTo("2");
    assertThat(secret(TOKEN).getData()).isEqualTo(token);
    assertThat(secret(TLS).getData()).isEqualTo(tls);
    // What Helm rendered for revision 2 (not only what the API server kept) holds the same values.
    String manifest = storedManifest(2);
    assertThat(manifest)
        .contains("token: " + token.get("token"))
        .contains("tls.crt: " + tls.get("tls.crt"));
  }

  @Test
  void anUpgradeAfterTheTokenSecretWasDeletedGeneratesANewOne() {
    install();
    String before = secret(TOKEN).getData().get("token");
    admin.secrets().inNamespace(namespace).withName(TOKEN).delete();

    upgrade();

    assertThat(storedManifest(2)).doesNotContain("token: " + before);
  }

  @Test
  void aNodeAddedToAgentNodesOnUpgradeIsSignedByTheSameCaAndTheOthersKeepTheirIdentity()
      throws Exception {
    Path one =
        Files.writeString(
            dir.resolve("one.yaml"), "agent: {nodes: [{name: dom0-a, ips: [10.0.0.5]}]}\n");
    Path two =
        Files.writeString(
            dir.resolve("two.yaml"),
            "agent: {nodes: [{name: dom0-a, ips: [10.0.0.5]}, {name: dom0-b, ips: [10.0.0.6]}]}\n");
    assertThat(
            new Helm(Chart.DIR)
                .install()
                .withName(RELEASE)
                .withNamespace(namespace)
                .withValuesFile(one)
                .withKubeConfigContents(kubeconfig)
                .skipCrds()
                .call()
                .getStatus())
        .isEqualTo("deployed");
    Map<String, String> ca = secret(FULLNAME + "-agent-ca").getData();
    Map<String, String> tlsA = secret(FULLNAME + "-agent-tls-dom0-a").getData();
    Map<String, String> tokenA = secret(FULLNAME + "-agent-token-dom0-a").getData();

    // Helm's three-way strategic merge patch of every changed object, as on a cluster.
    Release upgraded =
        new Helm(Chart.DIR)
            .upgrade()
            .withName(RELEASE)
            .withNamespace(namespace)
            .withValuesFile(two)
            .withKubeConfigContents(kubeconfig)
            .skipCrds()
            .call();

    assertThat(upgraded.getStatus()).isEqualTo("deployed");
    assertThat(secret(FULLNAME + "-agent-ca").getData()).isEqualTo(ca);
    assertThat(secret(FULLNAME + "-agent-tls-dom0-a").getData()).isEqualTo(tlsA);
    assertThat(secret(FULLNAME + "-agent-token-dom0-a").getData()).isEqualTo(tokenA);
    Map<String, String> tlsB = secret(FULLNAME + "-agent-tls-dom0-b").getData();
    X509Certificate caCert =
        HelmSecretsTest.cert(
            new String(Base64.getDecoder().decode(ca.get("ca.crt")), StandardCharsets.US_ASCII));
    HelmSecretsTest.cert(
            new String(Base64.getDecoder().decode(tlsB.get("tls.crt")), StandardCharsets.US_ASCII))
        .verify(
            caCert.getPublicKey()); // throws unless the kept CA signed the new node's certificate
    assertThat(secret(FULLNAME + "-agent-token-dom0-b").getData().get("token"))
        .isNotEqualTo(tokenA.get("token"));
  }

  private Release install() {
    return new Helm(Chart.DIR)
        .install()
        .withName(RELEASE)
        .withNamespace(namespace)
        .withKubeConfigContents(kubeconfig)
        .skipCrds()
        .call();
  }

  private Release upgrade() {
    return new Helm(Chart.DIR)
        .upgrade()
        .withName(RELEASE)
        .withNamespace(namespace)
        .withKubeConfigContents(kubeconfig)
        .skipCrds()
        .call();
  }

  private Secret secret(String name) {
    Secret s = admin.secrets().inNamespace(namespace).withName(name).get();
    assertThat(s).as("Secret " + name).isNotNull();
    return s;
  }

  /** Helm keeps each revision in a Secret: base64 of gzip of the release JSON. */
  private String storedManifest(int revision) {
    Secret release = secret("sh.helm.release.v1." + RELEASE + ".v" + revision);
    byte[] once = Base64.getDecoder().decode(release.getData().get("release"));
    byte[] gzip = Base64.getDecoder().decode(once);
    try (var in = new GZIPInputStream(new ByteArrayInputStream(gzip))) {
      String json = new String(in.readAllBytes(), StandardCharsets.UTF_8);
      Map<?, ?> parsed = Serialization.unmarshal(json, Map.class);
      return (String) parsed.get("manifest");
    } catch (IOException e) {
      throw new UncheckedIOException(e);
    }
  }
}
