package io.xenvbd.helm;

import static org.assertj.core.api.Assertions.assertThat;
import static org.awaitility.Awaitility.await;

import io.fabric8.kubernetes.api.model.Secret;
import io.fabric8.kubernetes.api.model.coordination.v1.Lease;
import io.fabric8.kubernetes.client.Config;
import io.fabric8.kubernetes.client.KubernetesClient;
import io.fabric8.kubernetes.client.KubernetesClientBuilder;
import io.xenvbd.api.BuildInfo;
import io.xenvbd.api.Dom0Node;
import io.xenvbd.api.VirtualDisk;
import io.xenvbd.api.VirtualDiskStatus;
import io.xenvbd.local.LocalConfig;
import io.xenvbd.local.LocalMode;
import io.xenvbd.testing.Manifests;
import io.xenvbd.testing.RequiresRoot;
import io.xenvbd.tls.Tls;
import java.io.ByteArrayInputStream;
import java.net.ServerSocket;
import java.net.URI;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.MethodOrderer;
import org.junit.jupiter.api.Order;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.TestMethodOrder;

/**
 * The image the chart deploys, built here from the project's Dockerfile by container/build-image.sh
 * and run with podman exactly as the rendered chart says (PodmanPod turns the pod spec into
 * podman's flags): the agent privileged on the host's network and PID namespace with its hostPath,
 * Secret and emptyDir volumes; the operator as UID 10001 on a read-only root with no capabilities.
 * Local mode's API (and, for the agent, local mode's operator) stands in for the cluster; the
 * containers reach it as in-cluster clients, with the service account files a kubelet would mount.
 */
@RequiresRoot
@TestMethodOrder(MethodOrderer.OrderAnnotation.class)
class ContainerImageIT {
  static final String IMAGE_REPOSITORY = "localhost/xenvbd";
  static final String IMAGE_TAG = "it";
  static final String NODE = "container-node";
  static final String AGENT = "xenvbd-it-agent";
  static final String OPERATOR = "xenvbd-it-operator";

  static Path root;
  static Path images;
  static Path sources;
  static Path state;
  static LocalMode local;
  static KubernetesClient kube;
  static Chart.Rendered chart;
  static int apiPort;
  static int agentPort;
  static int managementPort;

  @BeforeAll
  static void buildTheImageAndStartLocalMode() throws Exception {
    Podman.requireInstalled();
    // Not under /tmp: the chart mounts an emptyDir there, and refuses allowed sources under it.
    root = Files.createTempDirectory(Path.of("/var/tmp"), "xenvbd-container-it-");
    images = root.resolve("images");
    sources = Files.createDirectories(root.resolve("sources/guest"));
    state = root.resolve("state");
    Files.createDirectories(sources.resolve("etc"));
    Files.writeString(sources.resolve("etc/issue"), "Built by the agent in a container\n");
    Files.createDirectories(sources.resolve("usr/bin"));
    Files.write(sources.resolve("usr/bin/tool"), new byte[200_000]);
    Files.createSymbolicLink(sources.resolve("bin"), Path.of("usr/bin"));
    apiPort = freePort();
    agentPort = freePort();
    managementPort = freePort();

    chart =
        Chart.render(
            """
        image: {repository: %s, tag: %s}
        operator: {managementPort: %d, watchNamespaces: [%s]}
        agent: {imagesRoot: %s, allowSources: [%s], port: %d}
        """
                .formatted(
                    IMAGE_REPOSITORY,
                    IMAGE_TAG,
                    managementPort,
                    Chart.NAMESPACE,
                    images,
                    sources.getParent(),
                    agentPort));
    String image = chart.agentContainer().getImage();
    assertThat(chart.operatorContainer().getImage()).isEqualTo(image);
    long start = System.nanoTime();
    Podman.buildImage(image).ok();
    System.out.printf(
        "ContainerImageIT: built %s in %.1f s%n", image, (System.nanoTime() - start) / 1e9);

    local = LocalMode.start(new LocalConfig(state, List.of(), apiPort, "local-node"));
    kube =
        new KubernetesClientBuilder()
            .withConfig(Config.fromKubeconfig(Files.readString(local.config().kubeconfig())))
            .build();
  }

  @AfterAll
  static void stopEverything() throws Exception {
    if (root == null) return; // podman was missing: nothing was started
    for (String name : List.of(AGENT, OPERATOR)) Podman.podman(180, "rm", "-f", "-t", "120", name);
    if (kube != null) kube.close();
    if (local != null) local.close();
    Podman.run(List.of("rm", "-rf", "--one-file-system", root.toString()), 120);
  }

  @Test
  @Order(1)
  void theImageRunsTheJarAsTheNonRootUserWithTheDiskToolsAndNoJdkOrAptLists() {
    String image = chart.agentContainer().getImage();
    String config =
        Podman.podman(
                60,
                "image",
                "inspect",
                "--format",
                "{{.Config.User}}|{{json .Config.Entrypoint}}|{{json .Config.ExposedPorts}}",
                image)
            .ok()
            .out()
            .strip();
    assertThat(config)
        .startsWith("10001:10001|[\"java\",\"-jar\",\"/opt/xenvbd/xenvbd.jar\"]|")
        .contains("8080/tcp", "8443/tcp");
    assertThat(Podman.podman(120, "run", "--rm", "--network=none", image, "--version").ok().out())
        .contains("xenvbd " + BuildInfo.version());

    String tools =
        String.join(
            " ",
            "mke2fs",
            "e2fsck",
            "resize2fs",
            "tune2fs",
            "dumpe2fs",
            "debugfs",
            "mkfs.xfs",
            "xfs_repair",
            "xfs_growfs",
            "xfs_admin",
            "losetup",
            "mount",
            "umount",
            "blkid",
            "fallocate",
            "cp",
            "rm",
            "du",
            "stat",
            "sync",
            "chmod",
            "head",
            "tar",
            "gzip",
            "bzip2",
            "xz",
            "zstd",
            "bwrap",
            "sh",
            "java");
    String out =
        Podman.podman(
                120,
                "run",
                "--rm",
                "--network=none",
                "--user=0",
                "--entrypoint=sh",
                image,
                "-c",
                "for t in "
                    + tools
                    + "; do command -v $t >/dev/null || echo missing $t; done;"
                    + " command -v javac && echo has a JDK; ls /var/lib/apt/lists | grep -v -x -e partial -e lock;"
                    + " ls /var/cache/apt/archives | grep '[.]deb$'; echo checked")
            .ok()
            .out();
    assertThat(out.strip())
        .as("missing tools, a JDK, apt lists or cached packages")
        .isEqualTo("checked");
    long size =
        Long.parseLong(
            Podman.podman(60, "image", "inspect", "--format", "{{.Size}}", image)
                .ok()
                .out()
                .strip());
    System.out.printf("ContainerImageIT: %s is %d MB%n", image, size / 1_000_000);
  }

  @Test
  @Order(2)
  void theAgentRunFromTheImageAsTheChartRunsItBuildsReadyDisksAndLeavesNoLoopDeviceOrMount()
      throws Exception {
    Map<String, String> loopsBefore = loopDevicesUnder(root);
    List<String> mountsBefore = mountsUnder(root);
    PodmanPod agent =
        new PodmanPod(
            AGENT,
            chart.agentContainer().getImage(),
            chart.agent().getSpec().getTemplate().getSpec(),
            Map.of("spec.nodeName", NODE, "status.hostIP", "127.0.0.1"),
            secrets(),
            account(),
            null);
    List<String> run = agent.runCommand(Files.createDirectories(root.resolve("pods/agent")));
    System.out.println("ContainerImageIT: " + String.join(" ", run));
    Podman.run(run, 120).ok();

    await()
        .atMost(Duration.ofSeconds(120))
        .pollInterval(Duration.ofSeconds(1))
        .untilAsserted(
            () -> {
              assertThat(running(AGENT))
                  .as("agent container running; its log:\n%s", logs(AGENT))
                  .isTrue();
              Dom0Node node = kube.resources(Dom0Node.class).withName(NODE).get();
              assertThat(node)
                  .as("Dom0Node %s registered; agent log:\n%s", NODE, logs(AGENT))
                  .isNotNull();
              assertThat(node.getStatus()).as("Dom0Node %s has a status", NODE).isNotNull();
              assertThat(node.getStatus().agent().endpoint())
                  .isEqualTo("https://127.0.0.1:" + agentPort);
              assertThat(node.getStatus().conditions())
                  .anyMatch(c -> c.getType().equals("Ready") && c.getStatus().equals("True"));
            });
    // The chart's readiness probe: GET /readyz over HTTPS on the agent's port.
    HttpClient https =
        HttpClient.newBuilder().sslContext(Tls.clientContext(state.resolve("tls/ca.crt"))).build();
    assertThat(
            https
                .send(
                    HttpRequest.newBuilder(URI.create("https://127.0.0.1:" + agentPort + "/readyz"))
                        .build(),
                    HttpResponse.BodyHandlers.ofString())
                .statusCode())
        .isEqualTo(200);

    create(
        Manifests.disk(
            "guest",
            "256Mi",
            """
        nodeName: %s
        filesystem: ext4
        populate:
          method: LoopMount
          hostPaths: [{path: %s, target: /}]
          createDirs: [/proc, /sys, /tmp]
        tailor: {hostname: in-container}
        """
                .formatted(NODE, sources)));
    create(
        Manifests.disk(
            "scratch",
            "320Mi",
            "nodeName: %s\nfilesystem: xfs\npopulate: {createDirs: [/data]}".formatted(NODE)));
    VirtualDiskStatus guest = awaitReady("guest");
    VirtualDiskStatus scratch = awaitReady("scratch");

    Path guestImage = images.resolve("default/guest.img");
    assertThat(guest.path()).isEqualTo(guestImage.toString());
    assertThat(guest.nodeName()).isEqualTo(NODE);
    Podman.run(List.of("e2fsck", "-fn", guestImage.toString()), 120).ok();
    assertThat(
            Podman.run(List.of("debugfs", "-R", "cat /etc/hostname", guestImage.toString()), 60)
                .ok()
                .out())
        .contains("in-container");
    assertThat(
            Podman.run(List.of("debugfs", "-R", "cat /etc/issue", guestImage.toString()), 60)
                .ok()
                .out())
        .contains("Built by the agent in a container");
    // LoopMount is the manual recipe: losetup and mount -o loop inside the container; the
    // superblock remembers it.
    String header = Podman.run(List.of("dumpe2fs", "-h", guestImage.toString()), 60).ok().out();
    assertThat(header)
        .as("the image was loop-mounted")
        .doesNotContainPattern("Last mount time:\\s+n/a");
    assertThat(scratch.path()).isEqualTo(images.resolve("default/scratch.img").toString());
    Podman.run(List.of("xfs_repair", "-n", scratch.path()), 120).ok();

    // Done means released, by the agent itself: nothing of it mounted in the container or attached
    // on the host.
    assertThat(
            Podman.podman(60, "exec", AGENT, "cat", "/proc/mounts")
                .ok()
                .out()
                .lines()
                .filter(l -> l.split(" ")[1].startsWith(images + "/") || l.startsWith("/dev/loop")))
        .isEmpty();
    assertThat(loopDevicesUnder(root)).isEqualTo(loopsBefore);

    // The container stops while a LoopMount build copies a tree: the build is rolled back or
    // finished, never
    // left half-built under the image's name, and its loop device and mount go with it.
    Path big = Files.createDirectories(sources.resolveSibling("big"));
    for (int i = 0; i < 300; i++) Files.write(big.resolve("f" + i), new byte[512 * 1024]);
    create(
        Manifests.disk(
            "interrupted",
            "512Mi",
            """
        nodeName: %s
        filesystem: ext4
        populate: {method: LoopMount, hostPaths: [{path: %s, target: /big}]}
        """
                .formatted(NODE, big)));
    await()
        .atMost(Duration.ofSeconds(120))
        .pollInterval(Duration.ofMillis(100))
        .untilAsserted(
            () -> {
              VirtualDisk d =
                  kube.resources(VirtualDisk.class)
                      .inNamespace("default")
                      .withName("interrupted")
                      .get();
              assertThat(d.getStatus()).isNotNull();
              assertThat(d.getStatus().progress())
                  .as("interrupted is building: %s", d.getStatus())
                  .isNotNull();
            });
    String merged =
        Podman.podman(60, "inspect", "--format", "{{.GraphDriver.Data.MergedDir}}", AGENT)
            .ok()
            .out()
            .strip();
    assertThat(mountsUnder(Path.of(merged)))
        .as("the container's root is mounted while it runs")
        .isNotEmpty();
    Podman.podman(
            agent.gracePeriodSeconds() + 30,
            "stop",
            "-t",
            Long.toString(agent.gracePeriodSeconds()),
            AGENT)
        .ok();
    Path interrupted = images.resolve("default/interrupted.img");
    System.out.println(
        "ContainerImageIT: stopped the agent while building; the image "
            + (Files.exists(interrupted)
                ? "was completed (and passes e2fsck)"
                : "was rolled back"));
    if (Files.exists(interrupted))
      Podman.run(List.of("e2fsck", "-fn", interrupted.toString()), 120).ok();
    assertThat(logs(AGENT)).doesNotContain("Exception in thread");
    Podman.podman(60, "rm", AGENT).ok();

    assertThat(loopDevicesUnder(root))
        .as("loop devices backed by files under " + root)
        .isEqualTo(loopsBefore);
    assertThat(mountsUnder(root)).isEqualTo(mountsBefore);
    assertThat(mountsUnder(Path.of(merged)))
        .as("the container's root filesystem is unmounted")
        .isEmpty();
  }

  @Test
  @Order(3)
  void theOperatorRunFromTheImageAsTheChartRunsItAnswersReadyzAndMetricsAsUid10001OnAReadOnlyRoot()
      throws Exception {
    PodmanPod operator =
        new PodmanPod(
            OPERATOR,
            chart.operatorContainer().getImage(),
            chart.operator().getSpec().getTemplate().getSpec(),
            Map.of("metadata.name", OPERATOR + "-0", "metadata.namespace", Chart.NAMESPACE),
            secrets(),
            account(),
            // The pod network is the cluster's; here the host's, to reach local mode's API on
            // 127.0.0.1.
            "host");
    List<String> run = operator.runCommand(Files.createDirectories(root.resolve("pods/operator")));
    assertThat(run)
        .contains(
            "--user=10001:10001",
            "--read-only",
            "--cap-drop=ALL",
            "--security-opt=no-new-privileges")
        .doesNotContain("--privileged");
    Podman.run(run, 120).ok();

    HttpClient http = HttpClient.newHttpClient();
    String base = "http://127.0.0.1:" + managementPort;
    await()
        .atMost(Duration.ofSeconds(120))
        .pollInterval(Duration.ofSeconds(1))
        .ignoreExceptions()
        .untilAsserted(
            () -> {
              assertThat(running(OPERATOR))
                  .as("operator container running; its log:\n%s", logs(OPERATOR))
                  .isTrue();
              HttpResponse<String> ready =
                  http.send(
                      HttpRequest.newBuilder(URI.create(base + "/readyz")).build(),
                      HttpResponse.BodyHandlers.ofString());
              assertThat(ready.statusCode()).as("/readyz: %s", ready.body()).isEqualTo(200);
            });
    assertThat(
            http.send(
                    HttpRequest.newBuilder(URI.create(base + "/healthz")).build(),
                    HttpResponse.BodyHandlers.ofString())
                .statusCode())
        .isEqualTo(200);
    // It elects itself through the API with its in-cluster credentials, and says so on /metrics.
    await()
        .atMost(Duration.ofSeconds(60))
        .pollInterval(Duration.ofSeconds(1))
        .ignoreExceptions()
        .untilAsserted(
            () -> {
              Lease lease =
                  kube.leases().inNamespace(Chart.NAMESPACE).withName("xenvbd-operator").get();
              assertThat(lease).isNotNull();
              assertThat(lease.getSpec().getHolderIdentity()).isEqualTo(OPERATOR + "-0");
              HttpResponse<String> metrics =
                  http.send(
                      HttpRequest.newBuilder(URI.create(base + "/metrics")).build(),
                      HttpResponse.BodyHandlers.ofString());
              assertThat(metrics.statusCode()).isEqualTo(200);
              assertThat(metrics.body())
                  .contains("# TYPE xenvbd_operator_leader gauge")
                  .contains("\nxenvbd_operator_leader 1\n");
            });

    String inside =
        Podman.podman(
                60,
                "exec",
                OPERATOR,
                "sh",
                "-c",
                "id -u; id -g; grep CapEff /proc/1/status; touch /opt/xenvbd/x 2>&1 || true; touch /tmp/x && echo tmp writable")
            .ok()
            .out();
    assertThat(inside)
        .contains("10001\n10001\n")
        .contains("CapEff:\t0000000000000000")
        .contains("Read-only file system")
        .contains("tmp writable");
    Podman.podman(
            operator.gracePeriodSeconds() + 30,
            "stop",
            "-t",
            Long.toString(operator.gracePeriodSeconds()),
            OPERATOR)
        .ok();
    Podman.podman(60, "rm", OPERATOR).ok();
  }

  /**
   * The chart's Secrets, with local mode's credentials as their content (the operator and agent of
   * local mode use these).
   */
  static Map<String, Map<String, Path>> secrets() {
    Map<String, Path> content =
        Map.of(
            "token",
            state.resolve("agent-token"),
            "tls.crt",
            state.resolve("tls/tls.crt"),
            "tls.key",
            state.resolve("tls/tls.key"),
            "ca.crt",
            state.resolve("tls/ca.crt"));
    Map<String, Map<String, Path>> secrets = new LinkedHashMap<>();
    for (var o : chart.objects())
      if (o instanceof Secret s) secrets.put(s.getMetadata().getName(), content);
    return secrets;
  }

  static PodmanPod.ServiceAccount account() {
    return new PodmanPod.ServiceAccount(
        state.resolve("api-token"),
        state.resolve("api-tls/ca.crt"),
        Chart.NAMESPACE,
        "127.0.0.1",
        apiPort);
  }

  static void create(String yaml) {
    kube.resources(VirtualDisk.class)
        .load(new ByteArrayInputStream(yaml.getBytes(StandardCharsets.UTF_8)))
        .create();
  }

  static VirtualDiskStatus awaitReady(String name) {
    await()
        .atMost(Duration.ofSeconds(240))
        .pollInterval(Duration.ofSeconds(1))
        .untilAsserted(
            () -> {
              VirtualDisk d =
                  kube.resources(VirtualDisk.class).inNamespace("default").withName(name).get();
              assertThat(d.getStatus()).as("%s has a status", name).isNotNull();
              assertThat(d.getStatus().phase())
                  .as("%s: %s; agent log:\n%s", name, d.getStatus().conditions(), logs(AGENT))
                  .isEqualTo(VirtualDiskStatus.Phase.Ready);
            });
    return kube.resources(VirtualDisk.class)
        .inNamespace("default")
        .withName(name)
        .get()
        .getStatus();
  }

  static boolean running(String name) {
    return Podman.podman(60, "inspect", "--format", "{{.State.Running}}", name)
        .out()
        .strip()
        .equals("true");
  }

  static String logs(String name) {
    return Podman.podman(60, "logs", "--tail", "40", name).out();
  }

  /** Loop device to backing file, for the backing files under {@code dir}. */
  static Map<String, String> loopDevicesUnder(Path dir) {
    Map<String, String> loops = new LinkedHashMap<>();
    for (String line :
        Podman.run(List.of("losetup", "--list", "--noheadings", "--output", "NAME,BACK-FILE"), 60)
            .ok()
            .out()
            .lines()
            .toList()) {
      String[] f = line.strip().split("\\s+", 2);
      if (f.length == 2 && f[1].startsWith(dir.toString())) loops.put(f[0], f[1]);
    }
    return loops;
  }

  static List<String> mountsUnder(Path dir) throws Exception {
    return Files.readAllLines(Path.of("/proc/mounts")).stream()
        .filter(l -> l.split(" ")[1].startsWith(dir.toString()))
        .toList();
  }

  static int freePort() throws Exception {
    try (ServerSocket s = new ServerSocket(0)) {
      return s.getLocalPort();
    }
  }
}
