package io.xenvbd.helm;

import static io.xenvbd.helm.Chart.env;
import static io.xenvbd.helm.HelmSecretsTest.cert;
import static io.xenvbd.helm.HelmSecretsTest.certificate;
import static io.xenvbd.helm.HelmSecretsTest.decode;
import static io.xenvbd.helm.HelmSecretsTest.spec;
import static io.xenvbd.helm.HelmWorkloadsTest.names;
import static io.xenvbd.helm.HelmWorkloadsTest.volume;
import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import com.sun.net.httpserver.HttpsConfigurator;
import com.sun.net.httpserver.HttpsServer;
import io.fabric8.kubernetes.api.model.NodeSelectorRequirement;
import io.fabric8.kubernetes.api.model.NodeSelectorTerm;
import io.fabric8.kubernetes.api.model.PodSpec;
import io.fabric8.kubernetes.api.model.Secret;
import io.fabric8.kubernetes.api.model.apps.DaemonSet;
import io.xenvbd.client.AgentTrust;
import io.xenvbd.client.HttpAgentClient;
import io.xenvbd.client.NodeTokens;
import io.xenvbd.protocol.AgentClientFactory;
import io.xenvbd.protocol.AgentNotTrustedException;
import io.xenvbd.tls.Tls;
import java.net.InetSocketAddress;
import java.nio.file.Files;
import java.nio.file.Path;
import java.security.cert.X509Certificate;
import java.util.List;
import java.util.Map;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * agent.nodes: one certificate, one token and one pinned agent DaemonSet per node, and an operator
 * that requires each agent to prove its node; the shared certificate stays the default.
 */
class HelmNodeIdentityTest {
  static final String NODES =
      """
      agent:
        nodes:
          - {name: dom0-a, ips: [10.0.0.5]}
          - {name: dom0-b.example.com, ips: [10.0.0.6], dnsNames: [b.example.com]}
      """;
  static final String A = Chart.FULLNAME + "-agent-dom0-a";
  static final String B = Chart.FULLNAME + "-agent-dom0-b.example.com";

  @TempDir Path dir;

  @Test
  void withoutNodesEveryAgentSharesOneCertificateAndTheOperatorTrustsTheCa() {
    var chart = Chart.render("");
    assertThat(chart.names())
        .filteredOn(n -> n.startsWith("DaemonSet/"))
        .containsExactly("DaemonSet/" + Chart.FULLNAME + "-agent");
    assertThat(env(chart.operatorContainer(), "XENVBD_AGENT_IDENTITY").getValue()).isEqualTo("ca");
    assertThat(names(chart.operatorContainer())).doesNotContain("XENVBD_AGENT_TOKEN_DIR");
    assertThat(
            volume(chart.operator().getSpec().getTemplate().getSpec(), "agent-ca")
                .getSecret()
                .getSecretName())
        .isEqualTo(HelmSecretsTest.TLS);
    assertThat(chart.agent().getSpec().getTemplate().getSpec().getAffinity()).isNull();
    // one shared certificate proves no node: such agents do not stream clones between nodes
    assertThat(names(chart.agent().getSpec().getTemplate().getSpec().getContainers().get(0)))
        .doesNotContain("XENVBD_PEER_CA");
  }

  @Test
  void eachListedNodeGetsItsOwnPinnedDaemonSetMountingOnlyItsOwnSecrets() {
    var chart = Chart.render(NODES);
    assertThat(chart.names())
        .filteredOn(n -> n.startsWith("DaemonSet/"))
        .containsExactly("DaemonSet/" + A, "DaemonSet/" + B);
    for (String node : List.of("dom0-a", "dom0-b.example.com")) {
      DaemonSet ds = chart.one(DaemonSet.class, Chart.FULLNAME + "-agent-" + node);
      assertThat(ds.getSpec().getSelector().getMatchLabels())
          .containsEntry("xenvbd.io/node", node)
          .containsEntry("app.kubernetes.io/component", "agent");
      assertThat(ds.getSpec().getTemplate().getMetadata().getLabels())
          .containsAllEntriesOf(ds.getSpec().getSelector().getMatchLabels());
      PodSpec pod = ds.getSpec().getTemplate().getSpec();
      assertThat(terms(pod))
          .singleElement()
          .satisfies(
              t ->
                  assertThat(t.getMatchFields())
                      .containsExactly(
                          new NodeSelectorRequirement("metadata.name", "In", List.of(node))));
      assertThat(pod.getNodeSelector()).containsEntry("xenvbd.io/dom0", "true");
      assertThat(volume(pod, "token").getSecret().getSecretName())
          .isEqualTo(Chart.FULLNAME + "-agent-token-" + node);
      assertThat(volume(pod, "tls").getSecret().getSecretName())
          .isEqualTo(Chart.FULLNAME + "-agent-tls-" + node);
      // per-node certificates: the agent checks another node's agent against the CA when it streams
      // a clone from it
      assertThat(env(pod.getContainers().get(0), "XENVBD_PEER_CA").getValue())
          .isEqualTo("/etc/xenvbd/tls/ca.crt");
      assertThat(volume(pod, "tls").getSecret().getItems())
          .extracting(i -> i.getKey())
          .contains("ca.crt");
    }
    String a = decode(chart.one(Secret.class, Chart.FULLNAME + "-agent-token-dom0-a"), "token");
    String b =
        decode(
            chart.one(Secret.class, Chart.FULLNAME + "-agent-token-dom0-b.example.com"), "token");
    assertThat(a).hasSize(48).isNotEqualTo(b).isNotEqualTo(HelmSecretsTest.token(chart));
    assertThat(chart.find(Secret.class, HelmSecretsTest.TLS)).as("no shared certificate").isEmpty();
  }

  @Test
  void theOperatorRequiresNodeIdentityAndReadsEachNodesTokenFromItsOwnFile() {
    var chart = Chart.render(NODES);
    var c = chart.operatorContainer();
    PodSpec pod = chart.operator().getSpec().getTemplate().getSpec();
    assertThat(env(c, "XENVBD_AGENT_IDENTITY").getValue()).isEqualTo("node");
    assertThat(env(c, "XENVBD_AGENT_TOKEN_DIR").getValue()).isEqualTo("/etc/xenvbd/node-tokens");
    assertThat(HelmWorkloadsTest.mount(c, "node-tokens").getMountPath())
        .isEqualTo("/etc/xenvbd/node-tokens");
    assertThat(HelmWorkloadsTest.mount(c, "node-tokens").getReadOnly()).isTrue();
    assertThat(volume(pod, "node-tokens").getProjected().getSources())
        .extracting(
            s ->
                s.getSecret().getName()
                    + ":"
                    + s.getSecret().getItems().get(0).getKey()
                    + "->"
                    + s.getSecret().getItems().get(0).getPath())
        .containsExactly(
            Chart.FULLNAME + "-agent-token-dom0-a:token->dom0-a",
            Chart.FULLNAME + "-agent-token-dom0-b.example.com:token->dom0-b.example.com");
    assertThat(volume(pod, "agent-ca").getSecret().getSecretName())
        .isEqualTo(Chart.FULLNAME + "-agent-ca");
    assertThat(volume(pod, "agent-ca").getSecret().getItems())
        .extracting(i -> i.getKey())
        .containsExactly("ca.crt");
  }

  @Test
  void eachCertificateNamesItsNodeAndItsIpsAndIsSignedByTheCaTheOperatorTrusts() throws Exception {
    var chart = Chart.render(NODES);
    X509Certificate ca =
        cert(decode(chart.one(Secret.class, Chart.FULLNAME + "-agent-ca"), "ca.crt"));
    Secret a = chart.one(Secret.class, Chart.FULLNAME + "-agent-tls-dom0-a");
    Secret b = chart.one(Secret.class, Chart.FULLNAME + "-agent-tls-dom0-b.example.com");
    assertThat(sans(cert(decode(a, "tls.crt"))))
        .containsExactlyInAnyOrder("DNS:dom0-a", "DNS:" + Chart.FULLNAME + "-agent", "IP:10.0.0.5");
    assertThat(sans(cert(decode(b, "tls.crt"))))
        .containsExactlyInAnyOrder(
            "DNS:dom0-b.example.com",
            "DNS:b.example.com",
            "DNS:" + Chart.FULLNAME + "-agent",
            "IP:10.0.0.6");
    for (Secret s : List.of(a, b)) {
      cert(decode(s, "tls.crt")).verify(ca.getPublicKey());
      assertThat(decode(s, "ca.crt"))
          .isEqualTo(decode(chart.one(Secret.class, Chart.FULLNAME + "-agent-ca"), "ca.crt"));
    }
  }

  @Test
  void theChartsCertificateForANodeIsAcceptedByTheOperatorForThatNodeOnly() throws Exception {
    // The chart and the operator must agree on the identity rule: serve the rendered certificate
    // on loopback and call it as the operator does.
    var chart =
        Chart.render(
            """
        agent:
          nodes:
            - {name: dom0-a, ips: [127.0.0.1]}
            - {name: dom0-b, ips: [127.0.0.1]}
        """);
    Path ca =
        Files.writeString(
            dir.resolve("ca.crt"),
            decode(chart.one(Secret.class, Chart.FULLNAME + "-agent-ca"), "ca.crt"));
    Secret tls = chart.one(Secret.class, Chart.FULLNAME + "-agent-tls-dom0-a");
    Path crt = Files.writeString(dir.resolve("tls.crt"), decode(tls, "tls.crt"));
    Path key = Files.writeString(dir.resolve("tls.key"), decode(tls, "tls.key"));
    HttpsServer server = HttpsServer.create(new InetSocketAddress("127.0.0.1", 0), 0);
    server.setHttpsConfigurator(new HttpsConfigurator(Tls.serverContext(crt, key)));
    server.createContext(
        "/",
        e -> {
          e.sendResponseHeaders(404, -1);
          e.close();
        });
    server.start();
    try {
      String endpoint = "https://127.0.0.1:" + server.getAddress().getPort();
      AgentClientFactory operator =
          HttpAgentClient.factory(
              NodeTokens.shared("t"), AgentTrust.fromCa(ca, AgentTrust.Identity.NODE));
      assertThat(operator.forNode("dom0-a", endpoint).getDisk("ns", "d")).isEmpty();
      assertThatThrownBy(() -> operator.forNode("dom0-b", endpoint).getDisk("ns", "d"))
          .isInstanceOf(AgentNotTrustedException.class)
          .hasMessageContaining("DNS:dom0-a");
    } finally {
      server.stop(0);
    }
  }

  @Test
  void theAdminsAffinityIsKeptAndEveryTermIsPinnedToTheNode() {
    var chart =
        Chart.render(
            NODES
                + """
          affinity:
            nodeAffinity:
              requiredDuringSchedulingIgnoredDuringExecution:
                nodeSelectorTerms:
                  - matchExpressions: [{key: xen, operator: In, values: ["4.17"]}]
                  - matchExpressions: [{key: xen, operator: In, values: ["4.19"]}]
            podAntiAffinity:
              preferredDuringSchedulingIgnoredDuringExecution:
                - weight: 1
                  podAffinityTerm: {topologyKey: kubernetes.io/hostname, labelSelector: {matchLabels: {x: y}}}
        """);
    PodSpec pod = chart.one(DaemonSet.class, A).getSpec().getTemplate().getSpec();
    assertThat(terms(pod))
        .hasSize(2)
        .allSatisfy(
            t -> {
              assertThat(t.getMatchExpressions())
                  .singleElement()
                  .satisfies(e -> assertThat(e.getKey()).isEqualTo("xen"));
              assertThat(t.getMatchFields())
                  .containsExactly(
                      new NodeSelectorRequirement("metadata.name", "In", List.of("dom0-a")));
            });
    assertThat(
            pod.getAffinity()
                .getPodAntiAffinity()
                .getPreferredDuringSchedulingIgnoredDuringExecution())
        .hasSize(1);
  }

  @Test
  void certManagerIssuesOneCertificatePerNodeFromTheChartsCa() {
    var chart = Chart.render(NODES + "  tls: {certManager: {enabled: true}}\n");
    assertThat(chart.names())
        .doesNotContain("Certificate/" + Chart.FULLNAME + "-agent")
        .contains(
            "Certificate/" + Chart.FULLNAME + "-agent-ca",
            "Issuer/" + Chart.FULLNAME + "-agent-ca",
            "Certificate/" + A,
            "Certificate/" + B);
    assertThat(chart.objects())
        .filteredOn(o -> o instanceof Secret)
        .extracting(o -> o.getMetadata().getName())
        .as("cert-manager writes the TLS Secrets")
        .noneMatch(n -> n.contains("-agent-tls") || n.endsWith("-agent-ca"));
    Map<String, Object> spec = spec(certificate(chart, A));
    assertThat(spec)
        .containsEntry("secretName", Chart.FULLNAME + "-agent-tls-dom0-a")
        .containsEntry("commonName", "dom0-a")
        .containsEntry("dnsNames", List.of("dom0-a", Chart.FULLNAME + "-agent"))
        .containsEntry("ipAddresses", List.of("10.0.0.5"))
        .containsEntry("issuerRef", Map.of("name", Chart.FULLNAME + "-agent-ca", "kind", "Issuer"));
    assertThat(
            volume(chart.operator().getSpec().getTemplate().getSpec(), "agent-ca")
                .getSecret()
                .getSecretName())
        .isEqualTo(Chart.FULLNAME + "-agent-ca");

    var corp =
        Chart.render(
            NODES
                + "  tls: {certManager: {enabled: true, issuerRef: {name: corp-ca, kind: ClusterIssuer}}}\n");
    assertThat(spec(certificate(corp, B)))
        .containsEntry("issuerRef", Map.of("name", "corp-ca", "kind", "ClusterIssuer"));
    assertThat(
            volume(corp.operator().getSpec().getTemplate().getSpec(), "agent-ca")
                .getSecret()
                .getSecretName())
        .as("the issuer's ca.crt, as cert-manager writes it into each node's Secret")
        .isEqualTo(Chart.FULLNAME + "-agent-tls-dom0-a");
  }

  @Test
  void nodeEntriesTheOperatorCouldNeverAcceptFailWithWhatToChange() {
    assertThatThrownBy(() -> Chart.render("agent: {nodes: [{name: dom0-a}]}"))
        .hasMessageContaining("agent.nodes[0] (dom0-a) lists no ips");
    assertThatThrownBy(() -> Chart.render("agent: {nodes: [{name: Dom0_A, ips: [10.0.0.5]}]}"))
        .hasMessageContaining("\"Dom0_A\" is not a Kubernetes node name");
    assertThatThrownBy(() -> Chart.render("agent: {nodes: [dom0-a]}"))
        .hasMessageContaining("give a map such as");
    assertThatThrownBy(() -> Chart.render("agent: {nodes: [{name: no, ips: [10.0.0.5]}]}"))
        .hasMessageContaining("agent.nodes[0].name is false, not a string");
    assertThatThrownBy(
            () ->
                Chart.render(
                    "agent: {nodes: [{name: a, ips: [10.0.0.5]}, {name: a, ips: [10.0.0.6]}]}"))
        .hasMessageContaining("lists \"a\" twice");
    assertThatThrownBy(() -> Chart.render(NODES + "  tls: {existingSecret: mine}\n"))
        .hasMessageContaining("agent.tls.existingSecret is one certificate shared by every agent");
  }

  static List<NodeSelectorTerm> terms(PodSpec pod) {
    return pod.getAffinity()
        .getNodeAffinity()
        .getRequiredDuringSchedulingIgnoredDuringExecution()
        .getNodeSelectorTerms();
  }

  static List<String> sans(X509Certificate cert) throws Exception {
    return cert.getSubjectAlternativeNames().stream()
        .map(s -> ((Integer) s.get(0) == 2 ? "DNS:" : "IP:") + s.get(1))
        .toList();
  }
}
