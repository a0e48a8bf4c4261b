package io.xenvbd.helm;

import static io.xenvbd.testing.RealKubeApiServer.ADMIN;
import static org.assertj.core.api.Assertions.assertThat;

import com.marcnuri.helm.Helm;
import com.marcnuri.helm.Release;
import io.fabric8.kubernetes.api.model.HasMetadata;
import io.fabric8.kubernetes.api.model.NamespaceBuilder;
import io.fabric8.kubernetes.api.model.Secret;
import io.fabric8.kubernetes.client.KubernetesClient;
import io.fabric8.kubernetes.client.utils.Serialization;
import io.xenvbd.api.VirtualDisk;
import io.xenvbd.testing.Exec;
import io.xenvbd.testing.Host;
import io.xenvbd.testing.Kubectl;
import io.xenvbd.testing.RealKubeApiServer;
import io.xenvbd.testing.RequiresKubeApiServer;
import io.xenvbd.testing.RequiresRoot;
import java.io.ByteArrayInputStream;
import java.io.IOException;
import java.io.UncheckedIOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.security.cert.X509Certificate;
import java.util.Base64;
import java.util.List;
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
 * after each, so the classes sharing the server are not disturbed. The last test upgrades across
 * one version: from the chart of an earlier commit ({@link PreviousChart}), with disks built under
 * it, to this one, in the documented order (docs/helm.md, "Upgrading").
 */
@RequiresKubeApiServer
class HelmUpgradeTest {
  static final String RELEASE = "hu";
  static final String FULLNAME = RELEASE + "-xenvbd";
  static final String TOKEN = FULLNAME + "-agent-token";
  static final String TLS = FULLNAME + "-agent-tls";
  private static int namespaces;
  private RealKubeApiServer kube;
  private KubernetesClient admin;
  private String kubeconfig;
  private String namespace;
  @TempDir Path dir;

  @BeforeEach
  void start(RealKubeApiServer server) throws Exception {
    kube = server;
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

  /**
   * docs/helm.md's order: the new CRDs first ({@code kubectl replace -f helm/xenvbd/crds/}), then
   * {@code helm upgrade}, which rolls the operator and then the agents. The disks built under the
   * previous chart stay, with their images, and stay Ready without being built again; the CRDs
   * carry the new fields; a new disk is built after the upgrade. The operator and the agent run
   * in-process as the Deployment and the DaemonSet would (this server has no kubelet), stopped and
   * started again around the upgrade as a rollout does, as the admin: RBAC is
   * ScenariosOnRealApiServerTest's subject.
   */
  @Test
  @RequiresRoot
  void anUpgradeFromThePreviousChartUpdatesTheCrdsAndKeepsEveryDiskReadyAndBuiltOnce()
      throws Exception {
    Path previous = PreviousChart.extract(dir);
    Path kubeconfigFile = kube.kubeconfig(ADMIN);
    Kubectl kubectl = new Kubectl(kube.binaries().kubectl(), kubeconfigFile);
    try (UpgradeRig rig = new UpgradeRig(dir, admin, namespace)) {
      replaceCrds(kubectl, previous.resolve("crds"));
      assertThat(crdText("virtualdisks.xenvbd.io"))
          .as("the previous CRD, before the upgrade")
          .doesNotContain("adopt");
      Release installed =
          new Helm(previous)
              .install()
              .withName(RELEASE)
              .withNamespace(namespace)
              .withKubeConfigContents(kubeconfig)
              .skipCrds()
              .call();
      assertThat(installed.getStatus()).isEqualTo("deployed");
      Map<String, String> token = secret(TOKEN).getData();

      rig.startAgent();
      rig.startOperator();
      rig.create("ext4-disk", "32Mi", "ext4", "Delete");
      rig.create("raw-disk", "16Mi", "none", "Retain");
      Map<String, VirtualDisk> before =
          Map.of("ext4-disk", rig.awaitReady("ext4-disk"), "raw-disk", rig.awaitReady("raw-disk"));
      long builds = rig.builds();
      assertThat(builds).isEqualTo(2);
      Map<String, Long> inodes =
          Map.of("ext4-disk", rig.inode("ext4-disk"), "raw-disk", rig.inode("raw-disk"));

      // The rollout: the operator and the agents go away while the CRDs and the release change.
      rig.stopOperator();
      rig.stopAgent();
      replaceCrds(kubectl, Chart.DIR.resolve("crds"));
      assertThat(crdText("virtualdisks.xenvbd.io")).contains("adopt", "importFile");
      assertThat(crdText("dom0nodes.xenvbd.io")).contains("released");
      Release upgraded =
          new Helm(Chart.DIR)
              .upgrade()
              .withName(RELEASE)
              .withNamespace(namespace)
              .withKubeConfigContents(kubeconfig)
              .skipCrds()
              .call();
      assertThat(upgraded.getStatus()).isEqualTo("deployed");
      assertThat(upgraded.getRevision()).isEqualTo("2");
      for (HasMetadata o :
          Chart.parse(
              Chart.template(Chart.DIR, RELEASE, namespace, "", "v" + kube.binaries().version()))) {
        String ns =
            o.getMetadata().getNamespace() == null ? namespace : o.getMetadata().getNamespace();
        assertThat(admin.resource(o).inNamespace(ns).get())
            .as(o.getKind() + " " + o.getMetadata().getName() + " after the upgrade")
            .isNotNull();
      }
      assertThat(secret(TOKEN).getData()).as("the agents' token").isEqualTo(token);
      rig.startAgent();
      rig.startOperator();

      for (var e : before.entrySet()) {
        VirtualDisk was = e.getValue();
        VirtualDisk now = rig.awaitReady(e.getKey());
        assertThat(now.getMetadata().getUid()).isEqualTo(was.getMetadata().getUid());
        assertThat(now.getStatus().path()).isEqualTo(was.getStatus().path());
        assertThat(now.getStatus().filesystemUUID()).isEqualTo(was.getStatus().filesystemUUID());
        assertThat(UpgradeRig.ready(now).getLastTransitionTime())
            .as(e.getKey() + " never stopped being Ready")
            .isEqualTo(UpgradeRig.ready(was).getLastTransitionTime());
        assertThat(rig.inode(e.getKey()))
            .as(e.getKey() + ": the same file")
            .isEqualTo(inodes.get(e.getKey()));
      }
      rig.create("after-upgrade", "16Mi", "none", "Delete");
      rig.awaitReady("after-upgrade");
      assertThat(rig.builds())
          .as("after a restart the agent counts afresh: only the new disk was built")
          .isEqualTo(1);
      Host.assertFsckClean(Path.of(before.get("ext4-disk").getStatus().path()));
      rig.deleteAll();
    } finally {
      replaceCrds(kubectl, Chart.DIR.resolve("crds"));
    }
  }

  /** {@code kubectl replace -f DIR} (or create, for a CRD not there yet), then Established. */
  private void replaceCrds(Kubectl kubectl, Path crds) throws IOException {
    try (var files = Files.list(crds)) {
      for (Path f : files.filter(p -> p.toString().endsWith(".yaml")).sorted().toList()) {
        Exec.Result r = kubectl.run("replace", "-f", f.toString());
        if (r.exit() != 0 && r.err().contains("NotFound"))
          r = kubectl.run("create", "-f", f.toString());
        assertThat(r.exit()).as(r.all()).isZero();
      }
    }
    for (String name : List.of("virtualdisks.xenvbd.io", "dom0nodes.xenvbd.io")) {
      assertThat(
              kubectl
                  .run("wait", "--for=condition=Established", "--timeout=30s", "crd/" + name)
                  .exit())
          .isZero();
    }
  }

  private String crdText(String name) {
    return Serialization.asYaml(
        admin.apiextensions().v1().customResourceDefinitions().withName(name).get().getSpec());
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
