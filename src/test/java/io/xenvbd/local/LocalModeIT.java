package io.xenvbd.local;

import static org.assertj.core.api.Assertions.assertThat;
import static org.awaitility.Awaitility.await;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import io.xenvbd.testing.Exec;
import io.xenvbd.testing.Kubectl;
import io.xenvbd.testing.Manifests;
import io.xenvbd.testing.RequiresRoot;
import io.xenvbd.tls.Tls;
import java.io.BufferedReader;
import java.io.IOException;
import java.io.InputStreamReader;
import java.net.URI;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.attribute.PosixFilePermissions;
import java.time.Duration;
import java.util.ArrayList;
import java.util.Collections;
import java.util.List;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.MethodOrderer;
import org.junit.jupiter.api.Order;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.TestMethodOrder;
import org.junit.jupiter.api.io.TempDir;

/**
 * End to end, as a newcomer would: the packaged jar started as `xenvbd local`, driven with the real
 * kubectl, images checked with the real e2fsprogs.
 */
@RequiresRoot
@TestMethodOrder(MethodOrderer.OrderAnnotation.class)
class LocalModeIT {
  @TempDir static Path tmp;
  static Path state;
  static Path source;
  static Process local;
  static Kubectl kubectl;
  static final List<String> localOutput = Collections.synchronizedList(new ArrayList<>());
  static final ObjectMapper JSON = new ObjectMapper();

  @BeforeAll
  static void startLocalMode() throws Exception {
    state = tmp.resolve("state");
    source = tmp.resolve("guest-src");
    Files.createDirectories(source.resolve("etc"));
    Files.writeString(source.resolve("etc/issue"), "Guest built by xenvbd\n");
    Files.createDirectories(source.resolve("usr/bin"));
    Files.write(source.resolve("usr/bin/tool"), new byte[300_000]);
    Files.createSymbolicLink(source.resolve("bin"), Path.of("usr/bin"));
    String jar = System.getProperty("xenvbd.jar", "target/xenvbd.jar");
    local =
        new ProcessBuilder(
                "java",
                "-jar",
                jar,
                "local",
                "--dir",
                state.toString(),
                "--allow-source",
                source.toString())
            .redirectErrorStream(true)
            .start();
    Thread reader =
        new Thread(
            () -> {
              try (BufferedReader r =
                  new BufferedReader(
                      new InputStreamReader(local.getInputStream(), StandardCharsets.UTF_8))) {
                for (String line; (line = r.readLine()) != null; ) localOutput.add(line);
              } catch (IOException ignored) {
                // the process ended
              }
            },
            "local-mode-output");
    reader.setDaemon(true);
    reader.start();
    kubectl = new Kubectl(state.resolve("kubeconfig"));
    await()
        .atMost(Duration.ofSeconds(60))
        .pollInterval(Duration.ofMillis(250))
        .untilAsserted(
            () -> {
              assertThat(local.isAlive()).as("local mode exited early: %s", localOutput).isTrue();
              assertThat(Files.exists(state.resolve("kubeconfig"))).isTrue();
              assertThat(
                      kubectl
                          .run(
                              "get",
                              "dom0nodes",
                              "-o",
                              "jsonpath={.items[0].status.conditions[0].status}")
                          .out())
                  .isEqualTo("True");
            });
  }

  @AfterAll
  static void stopLocalMode() throws Exception {
    if (local != null && local.isAlive()) {
      local.destroy();
      if (!local.waitFor(60, TimeUnit.SECONDS)) local.destroyForcibly().waitFor();
    }
  }

  static String disk(String name, String size, String extra) {
    return Manifests.disk(name, size, "filesystem: ext4\n" + extra);
  }

  /** The guest disk the tests build and grow: the source tree, tailored as a guest root. */
  static String guest1(String size) {
    return disk(
        "guest1",
        size,
        """
        populate:
          hostPaths:
            - {path: %s, target: /}
          createDirs: [/proc, /sys, /tmp]
        tailor:
          hostname: guest1
          fstab:
            - {device: self, mountPoint: /, type: ext4, pass: 1}
        """
            .formatted(source));
  }

  JsonNode getJson(String... args) throws IOException {
    List<String> all = new ArrayList<>(List.of(args));
    all.addAll(List.of("-o", "json"));
    return JSON.readTree(kubectl.run(all.toArray(String[]::new)).ok().out());
  }

  @Test
  @Order(1)
  void applyBuildsAReadyImageWithTheCopiedTreeHostnameAndFstab() throws Exception {
    Process watch = kubectl.start("get", "vd", "-w", "--namespace", "default");
    try {
      kubectl.runWithInput(guest1("256Mi"), "apply", "-f", "-").ok();

      String table = kubectl.run("get", "vd", "guest1").ok().out();
      assertThat(table.lines().findFirst().orElseThrow())
          .containsSubsequence("NAME", "NODE", "SIZE", "ALLOCATED", "FS", "PHASE", "READY", "AGE");

      kubectl.run("wait", "--for=condition=Ready", "vd/guest1", "--timeout=120s").ok();

      List<String> seen = new ArrayList<>();
      BufferedReader r =
          new BufferedReader(new InputStreamReader(watch.getInputStream(), StandardCharsets.UTF_8));
      await()
          .atMost(Duration.ofSeconds(10))
          .until(
              () -> {
                while (r.ready()) seen.add(r.readLine());
                return seen.stream().anyMatch(l -> l.startsWith("guest1") && l.contains("Ready"));
              });
      assertThat(seen)
          .as("get -w showed the phases as they happened")
          .anyMatch(
              l -> l.startsWith("guest1") && (l.contains("Pending") || l.contains("Provisioning")));
    } finally {
      watch.destroy();
    }

    JsonNode status = getJson("get", "vd", "guest1").get("status");
    assertThat(status.get("phase").asText()).isEqualTo("Ready");
    String path = status.get("path").asText();
    assertThat(path).isEqualTo(state.resolve("images/default/guest1.img").toString());
    assertThat(status.get("capacityBytes").asLong()).isEqualTo(256L << 20);
    assertThat(status.get("allocatedBytes").asLong()).isPositive().isLessThan(256L << 20);
    assertThat(status.get("filesystemUUID").asText()).matches("[0-9a-f-]{36}");
    assertThat(status.at("/xen/disk").asText())
        .isEqualTo("format=raw, vdev=xvda1, access=rw, target=" + path);
    assertThat(status.at("/xen/legacyDisk").asText()).isEqualTo("file:" + path + ",xvda1,w");
    assertThat(status.at("/loopDevices/summary").asText()).isNotEmpty();
    assertThat(status.get("observedGeneration").asLong()).isEqualTo(1);
    assertThat(status.get("conditions"))
        .extracting(c -> c.get("type").asText() + "=" + c.get("status").asText())
        .contains("Scheduled=True", "Provisioned=True", "Ready=True");

    Exec.ok("e2fsck", "-fn", path);
    assertThat(Exec.ok("debugfs", "-R", "cat /etc/hostname", path)).contains("guest1");
    assertThat(Exec.ok("debugfs", "-R", "cat /etc/fstab", path))
        .contains("UUID=" + status.get("filesystemUUID").asText())
        .contains(" / ");
    assertThat(Exec.ok("debugfs", "-R", "cat /etc/issue", path)).contains("Guest built by xenvbd");
    assertThat(Exec.ok("debugfs", "-R", "stat /bin", path)).contains("Type: symlink");
    assertThat(Exec.ok("debugfs", "-R", "ls /", path))
        .contains("proc")
        .contains("sys")
        .contains("tmp");
  }

  @Test
  @Order(2)
  void describeShowsConditionsAndEvents() {
    String out = kubectl.run("describe", "vd", "guest1").ok().out();
    assertThat(out)
        .contains("Conditions")
        .contains("Ready")
        .contains("Events")
        .contains("Provisioned");
    assertThat(kubectl.run("get", "dom0nodes").ok().out().lines().findFirst().orElseThrow())
        .containsSubsequence("NAME", "LOOP", "AVAILABLE", "DISKS", "READY", "AGE");
  }

  @Test
  @Order(3)
  void reapplyWithALargerSizeGrowsTheFilesystem() throws Exception {
    kubectl.runWithInput(guest1("512Mi"), "apply", "-f", "-").ok();
    await()
        .atMost(Duration.ofSeconds(120))
        .pollInterval(Duration.ofMillis(500))
        .untilAsserted(
            () -> {
              JsonNode status = getJson("get", "vd", "guest1").get("status");
              assertThat(status.get("capacityBytes").asLong()).isEqualTo(512L << 20);
              assertThat(status.get("phase").asText()).isEqualTo("Ready");
              assertThat(status.get("observedGeneration").asLong()).isEqualTo(2);
            });
    String path = state.resolve("images/default/guest1.img").toString();
    String header = Exec.ok("dumpe2fs", "-h", path);
    long blocks =
        Long.parseLong(
            header
                .lines()
                .filter(l -> l.startsWith("Block count:"))
                .findFirst()
                .orElseThrow()
                .replaceAll("\\D", ""));
    long blockSize =
        Long.parseLong(
            header
                .lines()
                .filter(l -> l.startsWith("Block size:"))
                .findFirst()
                .orElseThrow()
                .replaceAll("\\D", ""));
    assertThat(blocks * blockSize).isEqualTo(512L << 20);
    Exec.ok("e2fsck", "-fn", path);

    // Server-side apply works too (kubectl's default for GitOps tools).
    kubectl
        .runWithInput(
            """
        apiVersion: xenvbd.io/v1alpha1
        kind: VirtualDisk
        metadata: {name: guest1, namespace: default, labels: {team: storage}}
        spec: {size: 512Mi}
        """,
            "apply",
            "--server-side",
            "--force-conflicts",
            "-f",
            "-")
        .ok();
    assertThat(
            kubectl.run("get", "vd", "guest1", "-o", "jsonpath={.metadata.labels.team}").ok().out())
        .isEqualTo("storage");
  }

  @Test
  @Order(4)
  void badInputIsRejectedAtApplyWithTheFieldNamedAndNothingIsCreated() {
    record Bad(String name, String spec, String field) {}
    List<Bad> cases =
        List.of(
            new Bad("bad-size", "size: 2GB", "spec.size"),
            new Bad("zero-size", "size: \"0\"", "spec.size"),
            new Bad("bad-fs", "size: 1Gi\n  filesystem: btrfs", "spec.filesystem"),
            new Bad(
                "relative-path",
                "size: 1Gi\n  populate: {hostPaths: [{path: etc}]}",
                "spec.populate.hostPaths[0].path"),
            new Bad("bad-vdev", "size: 1Gi\n  xen: {vdev: nvme0n1}", "spec.xen.vdev"),
            new Bad("no-size", "filesystem: ext4", "spec.size"));
    for (Bad bad : cases) {
      Exec.Result result =
          kubectl.runWithInput(
              """
          apiVersion: xenvbd.io/v1alpha1
          kind: VirtualDisk
          metadata: {name: %s, namespace: default}
          spec:
            %s
          """
                  .formatted(bad.name(), bad.spec()),
              "apply",
              "-f",
              "-");
      assertThat(result.exit()).as("%s was accepted", bad.name()).isNotZero();
      assertThat(result.err()).as("error for %s", bad.name()).contains(bad.field());
      assertThat(kubectl.run("get", "vd", bad.name()).exit()).isNotZero();
      assertThat(state.resolve("images/default/" + bad.name() + ".img")).doesNotExist();
    }
    // Shrinking is refused by the API (CEL) and the image keeps its size.
    Exec.Result shrink = kubectl.runWithInput(disk("guest1", "128Mi", ""), "apply", "-f", "-");
    assertThat(shrink.exit()).isNotZero();
    assertThat(shrink.err()).contains("never shrink");
    assertThat(state.resolve("images/default/guest1.img").toFile().length()).isEqualTo(512L << 20);
  }

  @Test
  @Order(5)
  void deleteRemovesTheImageOrRetainsItAsAsked() throws Exception {
    kubectl.runWithInput(disk("kept", "64Mi", "reclaimPolicy: Retain"), "apply", "-f", "-").ok();
    kubectl.run("wait", "--for=condition=Ready", "vd/kept", "--timeout=120s").ok();
    Path kept = state.resolve("images/default/kept.img");
    Path removed = state.resolve("images/default/guest1.img");
    assertThat(kept).exists();
    kubectl.run("delete", "vd", "guest1", "kept", "--timeout=120s").ok();
    assertThat(removed).doesNotExist();
    assertThat(kept).exists();
    assertThat(kubectl.run("get", "vd", "-o", "name").ok().out()).isBlank();
  }

  @Test
  @Order(6)
  void theApiAnswersOnlyTheKubeconfigsHolderAndTheKubeconfigIsTheOwnersAlone() throws Exception {
    Path kubeconfig = state.resolve("kubeconfig");
    assertThat(PosixFilePermissions.toString(Files.getPosixFilePermissions(kubeconfig)))
        .isEqualTo("rw-------");
    assertThat(PosixFilePermissions.toString(Files.getPosixFilePermissions(state)))
        .isEqualTo("rwx------");
    String yaml = Files.readString(kubeconfig);
    String server =
        yaml.lines()
            .filter(l -> l.strip().startsWith("server: "))
            .findFirst()
            .orElseThrow()
            .strip()
            .substring("server: ".length());
    assertThat(server).startsWith("https://127.0.0.1:");

    HttpClient http =
        HttpClient.newBuilder()
            .sslContext(Tls.clientContext(state.resolve("api-tls/ca.crt")))
            .build();
    HttpResponse<String> anonymous =
        http.send(
            HttpRequest.newBuilder(URI.create(server + "/api/v1/namespaces")).build(),
            HttpResponse.BodyHandlers.ofString());
    assertThat(anonymous.statusCode()).isEqualTo(401);
    assertThat(JSON.readTree(anonymous.body()).get("reason").asText()).isEqualTo("Unauthorized");

    Path tokenless =
        Files.writeString(
            tmp.resolve("tokenless-kubeconfig"),
            yaml.replaceAll("(?m)^\\s*token: .*\\n", "").replace("user:\n", "user: {}\n"));
    Exec.Result guessed =
        new Kubectl(tokenless).run("--username=someone", "--password=guessed", "get", "vd");
    assertThat(guessed.exit()).isNotZero();
    assertThat(guessed.err()).contains("You must be logged in to the server");
  }

  @Test
  @Order(7)
  void stoppingLocalModeLeavesNoMountAndNoLoopDevice() throws Exception {
    kubectl
        .runWithInput(
            disk("last", "64Mi", "populate: {method: LoopMount, createDirs: [/tmp]}"),
            "apply",
            "-f",
            "-")
        .ok();
    kubectl.run("wait", "--for=condition=Ready", "vd/last", "--timeout=120s").ok();
    local.destroy(); // SIGTERM, as Ctrl-C would
    assertThat(local.waitFor(60, TimeUnit.SECONDS)).as("local mode stops within a minute").isTrue();
    String root = state.toRealPath().toString();
    try (var loops = Files.list(Path.of("/sys/block"))) {
      for (Path dev : loops.filter(p -> p.getFileName().toString().startsWith("loop")).toList()) {
        Path backing = dev.resolve("loop/backing_file");
        if (Files.exists(backing)) assertThat(Files.readString(backing)).doesNotContain(root);
      }
    }
    assertThat(Files.readString(Path.of("/proc/self/mountinfo"))).doesNotContain(root);
  }
}
