package io.xenvbd.helm;

import io.fabric8.kubernetes.api.model.Container;
import io.fabric8.kubernetes.api.model.EnvVar;
import io.fabric8.kubernetes.api.model.KeyToPath;
import io.fabric8.kubernetes.api.model.PodSecurityContext;
import io.fabric8.kubernetes.api.model.PodSpec;
import io.fabric8.kubernetes.api.model.Quantity;
import io.fabric8.kubernetes.api.model.SecurityContext;
import io.fabric8.kubernetes.api.model.Volume;
import io.fabric8.kubernetes.api.model.VolumeMount;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardCopyOption;
import java.nio.file.attribute.PosixFilePermissions;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.regex.Matcher;
import java.util.regex.Pattern;

/**
 * A rendered pod's first container as the {@code podman run} arguments that do what a kubelet does
 * with it: environment (with {@code $(VAR)} expansion and downward-API values), security context,
 * host network and PID namespace, memory limit, hostPath, Secret and emptyDir volumes at their
 * mount paths, the service account's token and CA at the in-cluster path, and the container's args.
 * Anything in the spec it does not know how to do fails, so a chart change cannot pass unseen.
 *
 * @param fieldRefs values of the downward API's field paths (spec.nodeName, status.hostIP, ...)
 * @param secrets each Secret's content: secret name, then key to file holding the value
 * @param account the in-cluster service account the pod's API client finds
 * @param network the podman network; null: what the pod says (host, or podman's default)
 */
record PodmanPod(
    String name,
    String image,
    PodSpec pod,
    Map<String, String> fieldRefs,
    Map<String, Map<String, Path>> secrets,
    ServiceAccount account,
    String network) {

  /**
   * What a kubelet mounts at /var/run/secrets/kubernetes.io/serviceaccount, and where the API is.
   */
  record ServiceAccount(Path token, Path caCert, String namespace, String apiHost, int apiPort) {}

  static final String ACCOUNT_DIR = "/var/run/secrets/kubernetes.io/serviceaccount";
  private static final Pattern VAR_REF = Pattern.compile("\\$\\(([A-Za-z_][A-Za-z0-9_]*)\\)");

  Container container() {
    return pod.getContainers().get(0);
  }

  /**
   * {@code podman run -d ...}; the files of Secret volumes and the service account are written
   * under {@code scratch}.
   */
  List<String> runCommand(Path scratch) throws IOException {
    Container c = container();
    List<String> cmd = new ArrayList<>(List.of("podman", "run", "-d", "--name", name));
    String net =
        network != null ? network : Boolean.TRUE.equals(pod.getHostNetwork()) ? "host" : null;
    if (net != null) cmd.add("--network=" + net);
    if (Boolean.TRUE.equals(pod.getHostPID())) cmd.add("--pid=host");
    security(cmd, pod.getSecurityContext(), c.getSecurityContext());
    if (c.getResources() != null && c.getResources().getLimits() != null) {
      Quantity memory = c.getResources().getLimits().get("memory");
      if (memory != null) cmd.add("--memory=" + Quantity.getAmountInBytes(memory).toBigInteger());
    }
    env(cmd, c.getEnv());
    Long fsGroup = pod.getSecurityContext() == null ? null : pod.getSecurityContext().getFsGroup();
    for (VolumeMount m : c.getVolumeMounts()) volume(cmd, m, volume(m.getName()), scratch, fsGroup);
    if (account != null) {
      Path dir = scratch.resolve("serviceaccount");
      Files.createDirectories(dir);
      // A kubelet writes the bare token; the client sends the file's bytes as they are (a newline
      // would break the header).
      readable(
          Files.writeString(dir.resolve("token"), Files.readString(account.token()).strip()),
          fsGroup);
      copyReadable(account.caCert(), dir.resolve("ca.crt"), fsGroup);
      Files.writeString(dir.resolve("namespace"), account.namespace());
      cmd.add("--volume=" + dir + ":" + ACCOUNT_DIR + ":ro");
      cmd.addAll(
          List.of(
              "--env",
              "KUBERNETES_SERVICE_HOST=" + account.apiHost(),
              "--env",
              "KUBERNETES_SERVICE_PORT=" + account.apiPort()));
    }
    if (c.getCommand() != null && !c.getCommand().isEmpty()) {
      throw new AssertionError(
          "container "
              + c.getName()
              + " sets command "
              + c.getCommand()
              + ": the image's ENTRYPOINT is meant to run; teach PodmanPod --entrypoint if that changed");
    }
    cmd.add(image);
    cmd.addAll(c.getArgs());
    return cmd;
  }

  /**
   * Seconds {@code podman stop} gives the container, as the pod's terminationGracePeriodSeconds.
   */
  long gracePeriodSeconds() {
    Long s = pod.getTerminationGracePeriodSeconds();
    return s == null ? 30 : s;
  }

  private static void security(
      List<String> cmd, PodSecurityContext podContext, SecurityContext sc) {
    Long user =
        sc != null && sc.getRunAsUser() != null
            ? sc.getRunAsUser()
            : podContext != null ? podContext.getRunAsUser() : null;
    Long group =
        sc != null && sc.getRunAsGroup() != null
            ? sc.getRunAsGroup()
            : podContext != null ? podContext.getRunAsGroup() : null;
    if (user != null) cmd.add("--user=" + user + (group != null ? ":" + group : ""));
    if (podContext != null && podContext.getFsGroup() != null)
      cmd.add("--group-add=" + podContext.getFsGroup());
    if (sc == null) return;
    if (Boolean.TRUE.equals(sc.getPrivileged())) cmd.add("--privileged");
    // Only what the pod mounts is writable: no tmpfs of podman's own on /tmp, /run, /var/tmp.
    if (Boolean.TRUE.equals(sc.getReadOnlyRootFilesystem()))
      cmd.addAll(List.of("--read-only", "--read-only-tmpfs=false"));
    if (Boolean.FALSE.equals(sc.getAllowPrivilegeEscalation()))
      cmd.add("--security-opt=no-new-privileges");
    if (sc.getCapabilities() != null) {
      for (String cap : sc.getCapabilities().getDrop()) cmd.add("--cap-drop=" + cap);
      for (String cap : sc.getCapabilities().getAdd()) cmd.add("--cap-add=" + cap);
    }
    // seccompProfile RuntimeDefault is podman's default profile too.
    if (sc.getSeccompProfile() != null
        && !"RuntimeDefault".equals(sc.getSeccompProfile().getType())) {
      throw new AssertionError(
          "seccomp profile " + sc.getSeccompProfile().getType() + " is not handled");
    }
  }

  private void env(List<String> cmd, List<EnvVar> vars) {
    kubeletEnv(vars, fieldRefs)
        .forEach((name, value) -> cmd.addAll(List.of("--env", name + "=" + value)));
  }

  /**
   * The environment as a kubelet gives it: in order, downward-API fields filled in from {@code
   * fieldRefs}, each {@code $(NAME)} of an earlier variable expanded (an unknown one stays as
   * written).
   */
  static Map<String, String> kubeletEnv(List<EnvVar> vars, Map<String, String> fieldRefs) {
    Map<String, String> done = new LinkedHashMap<>();
    for (EnvVar v : vars) {
      String value;
      if (v.getValueFrom() != null) {
        if (v.getValueFrom().getFieldRef() == null)
          throw new AssertionError("env " + v.getName() + ": only fieldRef is handled");
        String path = v.getValueFrom().getFieldRef().getFieldPath();
        value = fieldRefs.get(path);
        if (value == null)
          throw new AssertionError(
              "env " + v.getName() + " needs the downward API's " + path + ": give it");
      } else {
        Matcher m = VAR_REF.matcher(v.getValue() == null ? "" : v.getValue());
        StringBuilder b = new StringBuilder();
        while (m.find())
          m.appendReplacement(
              b, Matcher.quoteReplacement(done.getOrDefault(m.group(1), m.group())));
        value = m.appendTail(b).toString();
      }
      done.put(v.getName(), value);
    }
    return done;
  }

  /** Names referenced as {@code $(NAME)} in the variables' values. */
  static List<String> references(List<EnvVar> vars) {
    return vars.stream()
        .filter(e -> e.getValue() != null)
        .flatMap(e -> VAR_REF.matcher(e.getValue()).results().map(r -> r.group(1)))
        .toList();
  }

  private Volume volume(String name) {
    return pod.getVolumes().stream()
        .filter(v -> v.getName().equals(name))
        .findFirst()
        .orElseThrow(() -> new AssertionError("no volume " + name));
  }

  private void volume(List<String> cmd, VolumeMount m, Volume v, Path scratch, Long fsGroup)
      throws IOException {
    String ro = Boolean.TRUE.equals(m.getReadOnly()) ? ":ro" : "";
    if (m.getSubPath() != null)
      throw new AssertionError("subPath mounts are not handled: " + m.getName());
    if (v.getHostPath() != null) {
      Path host = Path.of(v.getHostPath().getPath());
      if ("DirectoryOrCreate".equals(v.getHostPath().getType())) Files.createDirectories(host);
      if (!Files.exists(host))
        throw new AssertionError(
            "hostPath " + host + " of volume " + v.getName() + " does not exist");
      cmd.add("--volume=" + host + ":" + m.getMountPath() + ro);
    } else if (v.getSecret() != null) {
      Map<String, Path> content = secrets.get(v.getSecret().getSecretName());
      if (content == null)
        throw new AssertionError("no content given for Secret " + v.getSecret().getSecretName());
      Path dir = scratch.resolve("volumes").resolve(v.getName());
      Files.createDirectories(dir);
      for (KeyToPath item : v.getSecret().getItems()) {
        Path file = content.get(item.getKey());
        if (file == null)
          throw new AssertionError(
              "Secret " + v.getSecret().getSecretName() + " has no key " + item.getKey());
        copyReadable(file, dir.resolve(item.getPath()), fsGroup);
      }
      cmd.add("--volume=" + dir + ":" + m.getMountPath() + ro);
    } else if (v.getEmptyDir() != null) {
      Quantity limit = v.getEmptyDir().getSizeLimit();
      cmd.add(
          "--tmpfs="
              + m.getMountPath()
              + ":rw,mode=1777"
              + (limit == null ? "" : ",size=" + Quantity.getAmountInBytes(limit).toBigInteger()));
    } else {
      throw new AssertionError(
          "volume " + v.getName() + " is of a kind PodmanPod does not handle: " + v);
    }
  }

  /**
   * A Secret file as a kubelet writes it: mode 0644 (defaultMode), group fsGroup when the pod sets
   * one.
   */
  private static void copyReadable(Path from, Path to, Long fsGroup) throws IOException {
    readable(Files.copy(from, to, StandardCopyOption.REPLACE_EXISTING), fsGroup);
  }

  private static void readable(Path file, Long fsGroup) throws IOException {
    Files.setPosixFilePermissions(file, PosixFilePermissions.fromString("rw-r--r--"));
    if (fsGroup != null) Files.setAttribute(file, "unix:gid", fsGroup.intValue());
  }
}
