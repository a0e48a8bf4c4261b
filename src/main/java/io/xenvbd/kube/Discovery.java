package io.xenvbd.kube;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.node.ArrayNode;
import com.fasterxml.jackson.databind.node.ObjectNode;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.function.Supplier;

/**
 * Legacy discovery documents (/api, /apis, /api/v1, /apis/group[/version]) built from the CRDs in
 * the store plus the core types the operator uses, which the plain CRUD store serves as is.
 */
final class Discovery {
  private record Resource(
      String name,
      String singular,
      String kind,
      boolean namespaced,
      List<String> shortNames,
      boolean status) {}

  private static final List<String> VERBS =
      List.of("create", "delete", "deletecollection", "get", "list", "patch", "update", "watch");

  private static final Map<String, List<Resource>> BUILT_IN = new LinkedHashMap<>();

  static {
    BUILT_IN.put(
        "v1",
        List.of(
            new Resource("namespaces", "namespace", "Namespace", false, List.of("ns"), true),
            new Resource("configmaps", "configmap", "ConfigMap", true, List.of("cm"), false),
            new Resource("secrets", "secret", "Secret", true, List.of(), false),
            new Resource("events", "event", "Event", true, List.of("ev"), false)));
    BUILT_IN.put(
        "apiextensions.k8s.io/v1",
        List.of(
            new Resource(
                "customresourcedefinitions",
                "customresourcedefinition",
                "CustomResourceDefinition",
                false,
                List.of("crd", "crds"),
                true)));
    BUILT_IN.put(
        "coordination.k8s.io/v1",
        List.of(new Resource("leases", "lease", "Lease", true, List.of(), false)));
    BUILT_IN.put(
        "authorization.k8s.io/v1",
        List.of(
            new Resource(
                "selfsubjectrulesreviews", "", "SelfSubjectRulesReview", false, List.of(), false),
            new Resource(
                "selfsubjectaccessreviews",
                "",
                "SelfSubjectAccessReview",
                false,
                List.of(),
                false)));
    BUILT_IN.put(
        "events.k8s.io/v1",
        List.of(new Resource("events", "event", "Event", true, List.of("ev"), false)));
  }

  /** The kind of a built-in resource (for list kinds such as EventList), or null. */
  static String builtInKind(String groupVersion, String plural) {
    return BUILT_IN.getOrDefault(groupVersion, List.of()).stream()
        .filter(r -> r.name().equals(plural))
        .map(Resource::kind)
        .findFirst()
        .orElse(null);
  }

  private final CrdRegistry crds;
  private final Supplier<String> serverAddress;

  Discovery(CrdRegistry crds, Supplier<String> serverAddress) {
    this.crds = crds;
    this.serverAddress = serverAddress;
  }

  /** The discovery document for this path, or null when the path is not a discovery path. */
  JsonNode answer(String path) {
    String[] s = path.replaceAll("^/+|/+$", "").split("/");
    if (path.equals("/version") || path.equals("/version/")) {
      ObjectNode v = Json.object();
      v.put("major", "1")
          .put("minor", "32")
          .put("gitVersion", "v1.32.0-xenvbd")
          .put("platform", "linux/amd64");
      return v;
    }
    if (s.length == 1 && s[0].equals("api")) {
      ObjectNode v = Json.object().put("kind", "APIVersions");
      v.putArray("versions").add("v1");
      v.putArray("serverAddressByClientCIDRs")
          .addObject()
          .put("clientCIDR", "0.0.0.0/0")
          .put("serverAddress", serverAddress.get());
      return v;
    }
    if (s.length == 2 && s[0].equals("api") && s[1].equals("v1")) {
      return resourceList("v1");
    }
    Map<String, List<String>> groups = groups();
    if (s.length == 1 && s[0].equals("apis")) {
      ObjectNode list = Json.object().put("kind", "APIGroupList").put("apiVersion", "v1");
      ArrayNode items = list.putArray("groups");
      groups.forEach((g, versions) -> items.add(group(g, versions)));
      return list;
    }
    if (s.length == 2 && s[0].equals("apis") && groups.containsKey(s[1])) {
      return group(s[1], groups.get(s[1])).put("kind", "APIGroup").put("apiVersion", "v1");
    }
    if (s.length == 3
        && s[0].equals("apis")
        && groups.getOrDefault(s[1], List.of()).contains(s[2])) {
      return resourceList(s[1] + "/" + s[2]);
    }
    return null;
  }

  private Map<String, List<String>> groups() {
    Map<String, List<String>> groups = new LinkedHashMap<>();
    BUILT_IN.keySet().stream()
        .filter(gv -> gv.contains("/"))
        .forEach(
            gv ->
                groups
                    .computeIfAbsent(gv.split("/")[0], k -> new ArrayList<>())
                    .add(gv.split("/")[1]));
    for (JsonNode crd : crds.all()) {
      for (JsonNode v : crd.path("spec").path("versions")) {
        if (v.path("served").asBoolean(true)) {
          List<String> vs =
              groups.computeIfAbsent(Json.text(crd, "spec", "group"), k -> new ArrayList<>());
          if (!vs.contains(v.path("name").asText())) {
            vs.add(v.path("name").asText());
          }
        }
      }
    }
    return groups;
  }

  private static ObjectNode group(String name, List<String> versions) {
    ObjectNode g = Json.object().put("name", name);
    ArrayNode vs = g.putArray("versions");
    versions.forEach(v -> vs.addObject().put("groupVersion", name + "/" + v).put("version", v));
    g.putObject("preferredVersion")
        .put("groupVersion", name + "/" + versions.get(0))
        .put("version", versions.get(0));
    return g;
  }

  private ObjectNode resourceList(String groupVersion) {
    List<Resource> resources = new ArrayList<>(BUILT_IN.getOrDefault(groupVersion, List.of()));
    for (JsonNode crd : crds.all()) {
      JsonNode names = crd.path("spec").path("names");
      CrdRegistry.version(crd, groupVersion.substring(groupVersion.indexOf('/') + 1))
          .filter(v -> groupVersion.startsWith(Json.text(crd, "spec", "group") + "/"))
          .ifPresent(
              v -> {
                List<String> shortNames = new ArrayList<>();
                names.path("shortNames").forEach(n -> shortNames.add(n.asText()));
                resources.add(
                    new Resource(
                        names.path("plural").asText(),
                        names.path("singular").asText(),
                        names.path("kind").asText(),
                        "Namespaced".equals(Json.text(crd, "spec", "scope")),
                        shortNames,
                        v.path("subresources").has("status")));
              });
    }
    ObjectNode list =
        Json.object()
            .put("kind", "APIResourceList")
            .put("apiVersion", "v1")
            .put("groupVersion", groupVersion);
    ArrayNode items = list.putArray("resources");
    for (Resource r : resources) {
      ObjectNode o =
          items
              .addObject()
              .put("name", r.name())
              .put("singularName", r.singular())
              .put("namespaced", r.namespaced())
              .put("kind", r.kind());
      VERBS.forEach(o.putArray("verbs")::add);
      if (!r.shortNames().isEmpty()) {
        r.shortNames().forEach(o.putArray("shortNames")::add);
      }
      if (r.status()) {
        ArrayNode verbs =
            items
                .addObject()
                .put("name", r.name() + "/status")
                .put("singularName", "")
                .put("namespaced", r.namespaced())
                .put("kind", r.kind())
                .putArray("verbs");
        List.of("get", "patch", "update").forEach(verbs::add);
      }
    }
    return list;
  }
}
