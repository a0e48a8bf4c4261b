package io.xenvbd.helm;

import io.fabric8.kubernetes.api.model.APIGroupBuilder;
import io.fabric8.kubernetes.api.model.APIGroupListBuilder;
import io.fabric8.kubernetes.api.model.APIResource;
import io.fabric8.kubernetes.api.model.APIResourceBuilder;
import io.fabric8.kubernetes.api.model.APIResourceListBuilder;
import io.fabric8.kubernetes.api.model.APIVersionsBuilder;
import io.fabric8.kubernetes.api.model.GroupVersionForDiscoveryBuilder;
import io.fabric8.kubernetes.client.KubernetesClient;
import io.fabric8.kubernetes.client.server.mock.KubernetesCrudDispatcher;
import io.fabric8.kubernetes.client.server.mock.KubernetesMockServer;
import io.fabric8.kubernetes.client.utils.Serialization;
import io.fabric8.mockwebserver.Context;
import io.fabric8.mockwebserver.MockWebServer;
import io.fabric8.mockwebserver.http.Buffer;
import io.fabric8.mockwebserver.http.MockResponse;
import io.fabric8.mockwebserver.http.RecordedRequest;
import static java.nio.charset.StandardCharsets.UTF_8;

import java.util.ArrayList;
import java.util.HashMap;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;

/**
 * The fabric8 mock API server in CRUD mode, plus the discovery documents Helm (client-go) needs
 * before it creates anything: /version, /api, /apis and one resource list per group version the chart's
 * default objects use. The stock mock answers those paths with a list of stored objects.
 */
final class ApiServer implements AutoCloseable {
  /** group/version → resources as "plural:Kind:namespaced". */
  private static final Map<String, List<String>> RESOURCES = new LinkedHashMap<>();

  static {
    RESOURCES.put("v1", List.of("namespaces:Namespace:false", "secrets:Secret:true",
        "serviceaccounts:ServiceAccount:true", "services:Service:true", "events:Event:true"));
    RESOURCES.put("apps/v1", List.of("deployments:Deployment:true", "daemonsets:DaemonSet:true"));
    RESOURCES.put("rbac.authorization.k8s.io/v1", List.of("clusterroles:ClusterRole:false",
        "clusterrolebindings:ClusterRoleBinding:false", "roles:Role:true",
        "rolebindings:RoleBinding:true"));
    RESOURCES.put("apiextensions.k8s.io/v1",
        List.of("customresourcedefinitions:CustomResourceDefinition:false"));
    RESOURCES.put("admissionregistration.k8s.io/v1", List.of(
        "validatingadmissionpolicies:ValidatingAdmissionPolicy:false",
        "validatingadmissionpolicybindings:ValidatingAdmissionPolicyBinding:false"));
  }

  private final KubernetesMockServer server;
  final KubernetesClient client;

  ApiServer() {
    server = new KubernetesMockServer(new Context(), new MockWebServer(), new HashMap<>(),
        new Discovering(), false);
    server.init();
    client = server.createClient();
  }

  /** A kubeconfig for Helm that points at this server. */
  String kubeconfig() {
    return """
        apiVersion: v1
        kind: Config
        clusters:
        - name: mock
          cluster: {server: "http://%s:%d"}
        users:
        - name: mock
          user: {token: unused}
        contexts:
        - name: mock
          context: {cluster: mock, user: mock}
        current-context: mock
        """.formatted(server.getHostName(), server.getPort());
  }

  @Override
  public void close() {
    client.close();
    server.destroy();
  }

  private static final class Discovering extends KubernetesCrudDispatcher {
    @Override
    public MockResponse dispatch(RecordedRequest request) {
      String path = request.getPath().replaceFirst("\\?.*", "");
      byte[] body = request.getBody() == null ? new byte[0] : request.getBody().getBytes();
      if (ProtobufSecret.is(body)) {
        byte[] json = Serialization.asJson(ProtobufSecret.toJson(body)).getBytes(UTF_8);
        request = new RecordedRequest(request.getHttpVersion(), request.method(),
            request.getPath(), request.getHeaders().newBuilder()
                .set("Content-Type", "application/json").build(), new Buffer(json));
      }
      if (request.getMethod().equals("GET")) {
        Object document = discovery(path);
        if (document != null) {
          return new MockResponse().setResponseCode(200)
              .addHeader("Content-Type", "application/json").setBody(Serialization.asJson(document));
        }
      }
      // client-go decodes an answer without a Content-Type as what it asked for (protobuf, for
      // Helm's release storage); every answer of the mock is JSON, so say so.
      MockResponse response = super.dispatch(request);
      if (response.getWebSocketListener() == null && response.header("Content-Type") == null) {
        response.setHeader("Content-Type", "application/json");
      }
      // The mock calls every list "List"; client-go's typed clients want e.g. "SecretList".
      String listKind = request.getMethod().equals("GET") ? listKind(path) : null;
      if (listKind != null && response.getBody() != null) {
        String json = response.getBody().readUtf8();
        response.setBody(json.replaceFirst("\"kind\":\"List\"", "\"kind\":\"" + listKind + "\""));
      }
      return response;
    }

    /** "SecretList" for GET /api/v1/namespaces/ns/secrets, null for anything but a list. */
    private static String listKind(String path) {
      for (var gv : RESOURCES.entrySet()) {
        String prefix = gv.getKey().equals("v1") ? "/api/v1/" : "/apis/" + gv.getKey() + "/";
        if (!path.startsWith(prefix)) continue;
        String[] rest = path.substring(prefix.length()).split("/");
        String plural = rest.length == 3 && rest[0].equals("namespaces") ? rest[2]
            : rest.length == 1 ? rest[0] : null;
        for (String r : gv.getValue()) {
          String[] f = r.split(":");
          if (f[0].equals(plural)) return f[1] + "List";
        }
      }
      return null;
    }

    private static Object discovery(String path) {
      if (path.equals("/version")) {
        // client-go reads gitVersion, which the mock's own /version leaves out.
        return Map.of("major", "1", "minor", "31", "gitVersion", "v1.31.0",
            "platform", "linux/amd64");
      }
      if (path.equals("/api")) {
        return new APIVersionsBuilder().withVersions("v1").build();
      }
      if (path.equals("/apis")) {
        var groups = new APIGroupListBuilder();
        RESOURCES.keySet().stream().filter(gv -> gv.contains("/")).forEach(gv -> {
          var v = new GroupVersionForDiscoveryBuilder().withGroupVersion(gv)
              .withVersion(gv.split("/")[1]).build();
          groups.addToGroups(new APIGroupBuilder().withName(gv.split("/")[0])
              .withVersions(v).withPreferredVersion(v).build());
        });
        return groups.build();
      }
      String gv = path.equals("/api/v1") ? "v1" : path.startsWith("/apis/") ? path.substring(6) : "";
      if (!RESOURCES.containsKey(gv)) return null;
      List<APIResource> resources = new ArrayList<>();
      for (String r : RESOURCES.get(gv)) {
        String[] f = r.split(":");
        resources.add(new APIResourceBuilder().withName(f[0]).withKind(f[1])
            .withNamespaced(Boolean.parseBoolean(f[2])).withSingularName("")
            .withVerbs("create", "delete", "get", "list", "patch", "update", "watch").build());
      }
      return new APIResourceListBuilder().withGroupVersion(gv).withResources(resources).build();
    }
  }
}
