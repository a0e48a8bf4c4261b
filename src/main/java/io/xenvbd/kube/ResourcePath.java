package io.xenvbd.kube;

import java.util.Arrays;
import java.util.List;

/**
 * A parsed Kubernetes REST path: /api/v1/namespaces/ns/plural/name/sub or
 * /apis/group/version/[namespaces/ns/]plural[/name[/sub]]. Query strings are not part of it.
 */
record ResourcePath(
    String group,
    String version,
    String namespace,
    String plural,
    String name,
    String subresource) {

  static ResourcePath parse(String path) {
    List<String> s = Arrays.stream(path.split("/")).filter(p -> !p.isEmpty()).toList();
    int i;
    String group;
    String version;
    if (s.size() >= 3 && s.get(0).equals("api")) {
      group = "";
      version = s.get(1);
      i = 2;
    } else if (s.size() >= 4 && s.get(0).equals("apis")) {
      group = s.get(1);
      version = s.get(2);
      i = 3;
    } else {
      return null;
    }
    String ns = null;
    boolean namespaceSubresource =
        s.size() - i == 3
            && s.get(i).equals("namespaces")
            && (s.get(i + 2).equals("status") || s.get(i + 2).equals("finalize"));
    if (s.size() - i >= 3 && s.get(i).equals("namespaces") && !namespaceSubresource) {
      ns = s.get(i + 1);
      i += 2;
    }
    String plural = s.get(i);
    String name = s.size() > i + 1 ? s.get(i + 1) : null;
    String sub = s.size() > i + 2 ? s.get(i + 2) : null;
    return new ResourcePath(group, version, ns, plural, name, sub);
  }

  String qualifiedPlural() {
    return group.isEmpty() ? plural : plural + "." + group;
  }

  String apiVersion() {
    return group.isEmpty() ? version : group + "/" + version;
  }

  private String prefix() {
    return (group.isEmpty() ? "/api/" + version : "/apis/" + group + "/" + version)
        + (namespace == null ? "" : "/namespaces/" + namespace);
  }

  String collectionPath() {
    return prefix() + "/" + plural;
  }

  String objectPath() {
    return collectionPath() + "/" + name;
  }

  String objectPath(String objectName) {
    return collectionPath() + "/" + objectName;
  }

  boolean isStatus() {
    return "status".equals(subresource);
  }

  ResourcePath withName(String newName) {
    return new ResourcePath(group, version, namespace, plural, newName, subresource);
  }
}
