package io.xenvbd.agent;

import static io.xenvbd.agent.AgentHarness.json;
import static io.xenvbd.agent.AgentHarness.putBody;
import static org.assertj.core.api.Assertions.assertThat;
import static org.awaitility.Awaitility.await;

import com.sun.net.httpserver.HttpServer;
import io.xenvbd.api.Validation;
import io.xenvbd.disk.UrlPolicy;
import io.xenvbd.protocol.DiskState;
import io.xenvbd.protocol.OperationEnds;
import io.xenvbd.testing.Exec;
import io.xenvbd.testing.Host;
import io.xenvbd.testing.RequiresRoot;
import java.net.InetSocketAddress;
import java.net.http.HttpResponse;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.Collections;
import java.util.List;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.CopyOnWriteArrayList;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.Future;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicInteger;
import java.util.regex.Pattern;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** The disk API over real HTTPS, doing real disk work. */
@RequiresRoot
class AgentDiskApiTest {
  @TempDir Path dir;
  AgentHarness h;

  @BeforeEach
  void start() throws Exception {
    h = AgentHarness.start(dir, null);
  }

  @AfterEach
  void stop() {
    try {
      h.close();
    } finally {
      Host.releaseAll(dir);
    }
  }

  @Test
  void missingOrWrongTokenAnswers401AndTouchesNothing() throws Exception {
    String body = putBody("uid-1", "{\"size\":\"16Mi\"}");
    for (String token : new String[] {null, "", "wrong", h.token + "x", h.token.substring(1)}) {
      for (String[] call :
          List.of(
              new String[] {"PUT", "/v1/disks/default/d1"},
              new String[] {"GET", "/v1/disks/default/d1"},
              new String[] {"DELETE", "/v1/disks/default/d1?uid=uid-1"},
              new String[] {"GET", "/v1/node"})) {
        HttpResponse<String> r =
            h.call(call[0], call[1], call[0].equals("PUT") ? body : null, token);
        assertThat(r.statusCode())
            .as(call[0] + " " + call[1] + " with token " + token)
            .isEqualTo(401);
        assertThat(json(r).get("code").asText()).isEqualTo("Unauthorized");
        assertThat(json(r).get("message").asText()).contains("bearer token");
      }
    }
    Thread.sleep(300); // anything wrongly started would have created files by now
    assertThat(h.filesUnderRoot()).isEmpty();
    assertThat(h.call("GET", "/healthz", null, null).statusCode()).isEqualTo(200);
    assertThat(h.call("GET", "/readyz", null, null).statusCode()).isEqualTo(200);
  }

  @Test
  void putTwiceGivesOneImageAndAnotherOwnerGets409() throws Exception {
    String body =
        putBody("uid-1", "{\"size\":\"32Mi\",\"populate\":{\"createDirs\":[\"/proc\",\"/tmp\"]}}");
    HttpResponse<String> first = h.call("PUT", "/v1/disks/default/vm1disk", body);
    assertThat(first.statusCode()).as(first.body()).isEqualTo(202);
    assertThat(json(first).get("phase").asText()).isIn("Building", "Ready");
    DiskState ready = h.awaitReady("default", "vm1disk", Duration.ofSeconds(60));

    HttpResponse<String> second = h.call("PUT", "/v1/disks/default/vm1disk", body);
    assertThat(second.statusCode()).isEqualTo(200);
    assertThat(json(second).get("phase").asText()).isEqualTo("Ready");
    assertThat(json(second).get("filesystemUUID").asText()).isEqualTo(ready.filesystemUUID());
    assertThat(h.filesUnderRoot())
        .containsExactly("default/vm1disk.img", "default/vm1disk.img.json");

    Path image = Path.of(ready.path());
    assertThat(image).isEqualTo(h.root.resolve("default/vm1disk.img"));
    assertThat(Files.size(image)).isEqualTo(32L << 20).isEqualTo(ready.capacityBytes());
    assertThat(Exec.ok("blkid", "-o", "value", "-s", "UUID", image.toString()).strip())
        .isEqualTo(ready.filesystemUUID());
    // the xl lines are the operator's to write from this path (StatusBuilderTest,
    // OperatorWithRealAgentsTest)
    assertThat(json(second).has("xenDisk")).isFalse();
    assertThat(ready.allocatedBytes()).isLessThan(ready.capacityBytes());
    long modified = Files.getLastModifiedTime(image).toMillis();

    HttpResponse<String> stranger =
        h.call("PUT", "/v1/disks/default/vm1disk", putBody("uid-2", "{\"size\":\"32Mi\"}"));
    assertThat(stranger.statusCode()).isEqualTo(409);
    assertThat(json(stranger).get("code").asText()).isEqualTo("NotOwner");
    // The owner's uid is the owner's: a stranger learns only that the name is taken.
    assertThat(json(stranger).get("message").asText())
        .contains("belongs to another VirtualDisk")
        .doesNotContain("uid-1");
    HttpResponse<String> strangerDelete =
        h.call("DELETE", "/v1/disks/default/vm1disk?uid=uid-2", null);
    assertThat(strangerDelete.statusCode()).isEqualTo(409);
    assertThat(Files.getLastModifiedTime(image).toMillis()).isEqualTo(modified);
    assertThat(h.filesUnderRoot())
        .containsExactly("default/vm1disk.img", "default/vm1disk.img.json");

    HttpResponse<String> shrink =
        h.call("PUT", "/v1/disks/default/vm1disk", putBody("uid-1", "{\"size\":\"16Mi\"}"));
    assertThat(shrink.statusCode()).isEqualTo(409);
    assertThat(json(shrink).get("code").asText()).isEqualTo("ShrinkRefused");
  }

  @Test
  void grownSizeStartsAResize() throws Exception {
    String xen = ",\"xen\":{\"vdev\":\"xvdb\",\"access\":\"ro\"}";
    h.call("PUT", "/v1/disks/default/grow", putBody("uid-1", "{\"size\":\"32Mi\"" + xen + "}"));
    h.awaitReady("default", "grow", Duration.ofSeconds(60));
    HttpResponse<String> grow =
        h.call("PUT", "/v1/disks/default/grow", putBody("uid-1", "{\"size\":\"64Mi\"" + xen + "}"));
    assertThat(grow.statusCode()).as(grow.body()).isEqualTo(202);
    assertThat(json(grow).get("phase").asText()).isEqualTo("Resizing");
    DiskState grown = h.awaitReady("default", "grow", Duration.ofSeconds(60));
    assertThat(grown.capacityBytes()).isEqualTo(64L << 20);
    assertThat(grown.path()).isEqualTo(h.root.resolve("default/grow.img").toString());
    HttpResponse<String> confirm =
        h.call("PUT", "/v1/disks/default/grow", putBody("uid-1", "{\"size\":\"64Mi\"" + xen + "}"));
    assertThat(confirm.statusCode()).isEqualTo(200);
    assertThat(json(confirm).has("xenLegacyDisk")).isFalse();
    assertThat(Files.size(Path.of(grown.path()))).isEqualTo(64L << 20);
    String blocks = Exec.ok("dumpe2fs", "-h", grown.path());
    assertThat(blocks).containsPattern("Block count:\\s+" + ((64L << 20) / blockSize(blocks)));
  }

  private static long blockSize(String dumpe2fs) {
    var m = Pattern.compile("Block size:\\s+(\\d+)").matcher(dumpe2fs);
    assertThat(m.find()).isTrue();
    return Long.parseLong(m.group(1));
  }

  @Test
  void concurrentPutsOfDifferentDisksAllFinish() throws Exception {
    ExecutorService callers = Executors.newFixedThreadPool(5);
    try {
      List<Future<HttpResponse<String>>> answers = new ArrayList<>();
      for (int i = 0; i < 5; i++) {
        String name = "disk-" + i;
        answers.add(
            callers.submit(
                () ->
                    h.call(
                        "PUT",
                        "/v1/disks/team/" + name,
                        putBody("uid-" + name, "{\"size\":\"16Mi\"}"))));
      }
      for (Future<HttpResponse<String>> a : answers)
        assertThat(a.get().statusCode()).as(a.get().body()).isEqualTo(202);
    } finally {
      callers.shutdownNow();
    }
    for (int i = 0; i < 5; i++) h.awaitReady("team", "disk-" + i, Duration.ofSeconds(120));
    assertThat(h.filesUnderRoot()).filteredOn(f -> f.endsWith(".img")).hasSize(5);
    assertThat(h.client.node().images()).hasSize(5);
  }

  @Test
  void getShowsProgressAdvancingDuringALargePopulate() throws Exception {
    // 32 source directories of 8 MiB: the engine reports populate progress as each one is copied,
    // and 256 MiB keep it busy long enough for a poller on a loaded machine to see several reports.
    long bytes = 0;
    StringBuilder hostPaths = new StringBuilder();
    for (int i = 0; i < 32; i++) {
      Path src = h.sources.resolve("big-" + i);
      bytes += Host.writeTree(src, 8, 1 << 20);
      hostPaths
          .append(i == 0 ? "" : ",")
          .append("{\"path\":\"")
          .append(src)
          .append("\",\"target\":\"/data/")
          .append(i)
          .append("\"}");
    }
    String spec = "{\"size\":\"768Mi\",\"populate\":{\"hostPaths\":[" + hostPaths + "]}}";
    assertThat(h.call("PUT", "/v1/disks/default/big", putBody("uid-big", spec)).statusCode())
        .isEqualTo(202);
    List<DiskState> seen = new CopyOnWriteArrayList<>();
    await()
        .atMost(Duration.ofMinutes(3))
        .pollDelay(Duration.ZERO)
        .pollInterval(Duration.ofMillis(5))
        .until(
            () -> {
              DiskState s = h.client.getDisk("default", "big").orElseThrow();
              seen.add(s);
              if (s.phase() == DiskState.Phase.Failed)
                throw new AssertionError("failed: " + s.error());
              return s.phase() == DiskState.Phase.Ready;
            });
    List<Long> populateBytes =
        seen.stream()
            .filter(s -> "Populate".equals(s.stage()))
            .map(DiskState::bytesDone)
            .distinct()
            .toList();
    assertThat(populateBytes)
        .as(
            "distinct bytesDone seen while populating, in "
                + seen.stream().map(s -> s.stage() + ":" + s.bytesDone()).distinct().toList())
        .hasSizeGreaterThanOrEqualTo(2);
    assertThat(populateBytes).isSorted();
    List<Integer> percents = seen.stream().map(DiskState::percent).filter(p -> p != null).toList();
    assertThat(percents).isSorted();
    // The stage's first report has no total yet; once copying started it covers every source byte.
    assertThat(
            seen.stream()
                .filter(s -> "Populate".equals(s.stage()))
                .mapToLong(DiskState::bytesTotal)
                .max()
                .orElseThrow())
        .isGreaterThanOrEqualTo(bytes);
    for (int i : new int[] {0, 31}) {
      String listing =
          Exec.ok(
              "debugfs", "-R", "ls -p /data/" + i, h.root.resolve("default/big.img").toString());
      assertThat(listing.lines().filter(l -> l.contains("file-")).count()).isEqualTo(8);
    }
  }

  @Test
  void deleteOfAnAttachedImageIs409UntilDetached() throws Exception {
    h.call("PUT", "/v1/disks/default/attached", putBody("uid-a", "{\"size\":\"16Mi\"}"));
    DiskState ready = h.awaitReady("default", "attached", Duration.ofSeconds(60));
    String loop = Exec.ok("losetup", "-f", "--show", ready.path()).strip();
    try {
      HttpResponse<String> refused = h.call("DELETE", "/v1/disks/default/attached?uid=uid-a", null);
      assertThat(refused.statusCode()).isEqualTo(409);
      assertThat(json(refused).get("code").asText()).isEqualTo("ImageInUse");
      assertThat(json(refused).get("message").asText()).contains(loop);
      assertThat(Path.of(ready.path())).exists();
    } finally {
      Exec.ok("losetup", "-d", loop);
    }
    assertThat(h.call("DELETE", "/v1/disks/default/attached?uid=uid-a", null).statusCode())
        .isEqualTo(204);
    assertThat(h.filesUnderRoot()).isEmpty();
    assertThat(h.call("DELETE", "/v1/disks/default/attached?uid=uid-a", null).statusCode())
        .as("already gone")
        .isEqualTo(204);
    assertThat(h.call("GET", "/v1/disks/default/attached", null).statusCode()).isEqualTo(404);
  }

  @Test
  void badInputGets400Or413WithAMessageAndNoStackTrace() throws Exception {
    List<HttpResponse<String>> answers = new ArrayList<>();
    HttpResponse<String> malformed =
        h.call("PUT", "/v1/disks/default/x", "{\"uid\":\"u\",\"spec\":{\"size\":");
    assertThat(malformed.statusCode()).isEqualTo(400);
    assertThat(json(malformed).get("message").asText()).contains("malformed JSON");
    HttpResponse<String> unknown =
        h.call("PUT", "/v1/disks/default/x", putBody("u", "{\"size\":\"16Mi\",\"sise\":\"1Gi\"}"));
    assertThat(unknown.statusCode()).isEqualTo(400);
    assertThat(json(unknown).get("message").asText())
        .contains("unknown field 'sise'")
        .contains("spec");
    HttpResponse<String> nested =
        h.call(
            "PUT",
            "/v1/disks/default/x",
            putBody("u", "{\"size\":\"16Mi\",\"populate\":{\"hostpath\":[]}}"));
    assertThat(nested.statusCode()).isEqualTo(400);
    assertThat(json(nested).get("message").asText())
        .contains("unknown field 'hostpath'")
        .contains("spec.populate");
    HttpResponse<String> badEnum =
        h.call(
            "PUT",
            "/v1/disks/default/x",
            putBody("u", "{\"size\":\"16Mi\",\"filesystem\":\"ntfs\"}"));
    assertThat(badEnum.statusCode()).isEqualTo(400);
    assertThat(json(badEnum).get("message").asText()).contains("filesystem");
    HttpResponse<String> badSize =
        h.call("PUT", "/v1/disks/default/x", putBody("u", "{\"size\":\"2Gx\"}"));
    assertThat(badSize.statusCode()).isEqualTo(400);
    assertThat(json(badSize).get("code").asText()).isEqualTo("InvalidRequest");
    HttpResponse<String> noUid =
        h.call("PUT", "/v1/disks/default/x", "{\"spec\":{\"size\":\"16Mi\"}}");
    assertThat(noUid.statusCode()).isEqualTo(400);
    assertThat(json(noUid).get("message").asText()).contains("uid");
    HttpResponse<String> empty = h.call("PUT", "/v1/disks/default/x", "");
    assertThat(empty.statusCode()).isEqualTo(400);
    for (String wait : List.of("soon", "-1", "2001")) {
      HttpResponse<String> badWait = h.call("GET", "/v1/disks/default/x?wait=" + wait, null);
      assertThat(badWait.statusCode()).as(wait).isEqualTo(400);
      assertThat(json(badWait).get("message").asText()).contains("wait", "0 to 2000");
    }
    assertThat(h.call("GET", "/v1/disks/default/x?wait=0", null).statusCode()).isEqualTo(404);
    // The largest spec the CRD admits (64 files of 64 Ki characters, escaped) is read and judged on
    // its
    // content (here: the zero size), not refused for its length; beyond the limit, 413.
    String maxFile =
        "{\"path\":\"/f\",\"content\":\"" + "\\u0001".repeat(Validation.MAX_FILE_CONTENT) + "\"}";
    String allFiles = String.join(",", Collections.nCopies(Validation.MAX_FILES, maxFile));
    HttpResponse<String> largest =
        h.call(
            "PUT",
            "/v1/disks/default/largest",
            putBody("u", "{\"size\":\"0\",\"tailor\":{\"files\":[" + allFiles + "]}}"));
    assertThat(largest.statusCode()).as(largest.body()).isEqualTo(400);
    assertThat(json(largest).get("message").asText()).contains("size");
    String huge =
        putBody(
            "u",
            "{\"size\":\"16Mi\",\"tailor\":{\"files\":[{\"path\":\"/x\",\"content\":\""
                + "a".repeat(Exchanges.MAX_BODY_BYTES)
                + "\"}]}}");
    HttpResponse<String> tooLarge = h.call("PUT", "/v1/disks/default/x", huge);
    assertThat(tooLarge.statusCode()).isEqualTo(413);
    assertThat(json(tooLarge).get("message").asText()).contains("larger than");
    for (String path :
        List.of(
            "/v1/disks/Default/x",
            "/v1/disks/default/a..b",
            "/v1/disks/default/%2e%2e",
            "/v1/disks/default/UP",
            "/v1/disks/default/-x",
            "/v1/disks/" + "n".repeat(64) + "/x")) {
      HttpResponse<String> r = h.call("PUT", path, putBody("u", "{\"size\":\"16Mi\"}"));
      assertThat(r.statusCode()).as(path).isEqualTo(400);
      assertThat(json(r).get("message").asText()).as(path).containsAnyOf("DNS-1123");
      answers.add(r);
    }
    HttpResponse<String> traversal = h.call("GET", "/v1/disks/default/../../etc", null);
    assertThat(traversal.statusCode()).isIn(400, 404);
    HttpResponse<String> deleteWithoutUid = h.call("DELETE", "/v1/disks/default/x", null);
    assertThat(deleteWithoutUid.statusCode()).isEqualTo(400);
    assertThat(h.call("POST", "/v1/disks/default/x", "{}").statusCode()).isEqualTo(405);
    answers.addAll(
        List.of(
            malformed,
            unknown,
            nested,
            badEnum,
            badSize,
            noUid,
            empty,
            tooLarge,
            traversal,
            deleteWithoutUid));
    for (HttpResponse<String> r : answers) {
      assertThat(r.body())
          .doesNotContain("Exception")
          .doesNotContain("\tat ")
          .doesNotContain("at io.xenvbd");
      assertThat(r.headers().firstValue("Content-Type")).hasValue("application/json");
    }
    assertThat(h.filesUnderRoot()).isEmpty();
  }

  /**
   * A token holder that bypasses the operator gets what a tenant gets through it: 400
   * InvalidRequest with the message the operator puts in its InvalidSpec condition, and nothing
   * built.
   */
  @Test
  void specsTheOperatorRefusesAreRefusedWhenTheOperatorIsBypassed() throws Exception {
    String shadowBefore = Files.readString(Path.of("/etc/shadow"));
    String[][] bypasses = {
      {
        "{\"size\":\"16Mi\",\"populate\":{\"cloneFrom\":{\"name\":\"base\"},\"archive\":{\"source\":\"/srv/root.tar\"}}}",
        "populate.cloneFrom copies a whole image and cannot be combined with archive or hostPaths"
      },
      {
        "{\"size\":\"16Mi\",\"tailor\":{\"files\":[{\"path\":\"/etc/motd\",\"content\":\"hi\",\"mode\":\"--reference=/etc/shadow\"}]}}",
        "spec.tailor.files[0].mode '--reference=/etc/shadow' is not an octal file mode: use e.g. 0644 or 0600"
      },
      {
        "{\"size\":\"16Mi\",\"populate\":{\"createDirs\":[\"/../../../etc/x\"]}}",
        "spec.populate.createDirs[0] '/../../../etc/x' must be an absolute path with no . or .. parts"
      },
      {
        "{\"size\":\"16Mi\",\"xen\":{\"vdev\":\"xvda1, target=/etc/shadow\"}}",
        "spec.xen.vdev 'xvda1, target=/etc/shadow' is not a device xl accepts: use xvda1, xvdb, sda1 ..."
      },
      {
        "{\"size\":\"64Mi\",\"filesystem\":\"xfs\"}",
        "spec.size must be at least 300Mi for xfs (mkfs.xfs makes no smaller filesystem): raise spec.size or choose ext4"
      },
      {
        "{\"size\":\"16Mi\",\"tailor\":{\"fstab\":[{\"device\":\"self\",\"mountPoint\":\"/\",\"type\":\"ext4\",\"options\":\"defaults\\n/dev/xvdb / ext4\"}]}}",
        "spec.tailor.fstab[0].options 'defaults?/dev/xvdb / ext4' must be one word of at most 1024 characters:"
            + " no spaces, tabs, newlines, control characters or '#'"
      },
    };
    for (String[] b : bypasses) {
      HttpResponse<String> r = h.call("PUT", "/v1/disks/default/bypass", putBody("uid-b", b[0]));
      assertThat(r.statusCode()).as(b[0] + ": " + r.body()).isEqualTo(400);
      assertThat(json(r).get("code").asText()).isEqualTo("InvalidRequest");
      assertThat(json(r).get("message").asText()).isEqualTo(b[1]);
    }
    for (String url : List.of("http://%zz/", "http:///x", "http://[::1/")) {
      HttpResponse<String> r =
          h.call(
              "PUT",
              "/v1/disks/default/bypass",
              putBody(
                  "uid-b",
                  "{\"size\":\"16Mi\",\"populate\":{\"archive\":{\"source\":\"" + url + "\"}}}"));
      assertThat(r.statusCode()).as(url + ": " + r.body()).isEqualTo(400);
      assertThat(json(r).get("code").asText()).isEqualTo("InvalidRequest");
      assertThat(json(r).get("message").asText())
          .startsWith(
              "spec.populate.archive.source '" + url + "' is not a URL the agent can fetch");
    }
    assertThat(h.call("GET", "/v1/disks/default/bypass", null).statusCode())
        .as("no operation was started")
        .isEqualTo(404);
    assertThat(h.filesUnderRoot()).isEmpty();
    assertThat(Files.readString(Path.of("/etc/shadow"))).isEqualTo(shadowBefore);
  }

  @Test
  void aFailedBuildIsReportedAndRetriedWhenTheRequestChanges() throws Exception {
    String outside = "{\"size\":\"16Mi\",\"populate\":{\"hostPaths\":[{\"path\":\"/etc\"}]}}";
    assertThat(h.call("PUT", "/v1/disks/default/f", putBody("uid-f", outside)).statusCode())
        .isEqualTo(202);
    DiskState failed =
        await()
            .atMost(Duration.ofSeconds(60))
            .until(
                () -> h.client.getDisk("default", "f").orElseThrow(),
                s -> s.phase() == DiskState.Phase.Failed);
    assertThat(failed.error().code()).isEqualTo("SourceNotAllowed");
    HttpResponse<String> again = h.call("PUT", "/v1/disks/default/f", putBody("uid-f", outside));
    assertThat(again.statusCode())
        .as("the same failed request is not retried at once")
        .isEqualTo(200);
    assertThat(json(again).get("phase").asText()).isEqualTo("Failed");
    HttpResponse<String> fixed =
        h.call("PUT", "/v1/disks/default/f", putBody("uid-f", "{\"size\":\"16Mi\"}"));
    assertThat(fixed.statusCode()).isEqualTo(202);
    h.awaitReady("default", "f", Duration.ofSeconds(60));
    assertThat(h.filesUnderRoot()).containsExactly("default/f.img", "default/f.img.json");
  }

  @Test
  void anArchiveUrlIsFetchedOnlyWhereTheAgentsAdminAllowsIt() throws Exception {
    Path tree = Files.createDirectories(dir.resolve("tree/etc"));
    Files.writeString(tree.resolve("motd"), "from the mirror\n");
    Path tar = dir.resolve("root.tar");
    Exec.ok("tar", "-cf", tar.toString(), "-C", tree.getParent().toString(), "etc");
    AtomicInteger requests = new AtomicInteger();
    HttpServer mirror = HttpServer.create(new InetSocketAddress("127.0.0.1", 0), 8);
    mirror.createContext(
        "/images/root.tar",
        ex -> {
          requests.incrementAndGet();
          byte[] body = Files.readAllBytes(tar);
          ex.sendResponseHeaders(200, body.length);
          ex.getResponseBody().write(body);
          ex.close();
        });
    mirror.start();
    String prefix = "http://127.0.0.1:" + mirror.getAddress().getPort() + "/images/";
    String spec =
        "{\"size\":\"16Mi\",\"populate\":{\"archive\":{\"source\":\"" + prefix + "root.tar\"}}}";
    try (AgentHarness allowing =
        AgentHarness.start(
            dir.resolve("allowing"),
            null,
            c -> c.urls(new UrlPolicy(List.of(prefix), List.of("127.0.0.1"))))) {
      assertThat(h.call("PUT", "/v1/disks/default/u", putBody("uid-u", spec)).statusCode())
          .isEqualTo(202);
      DiskState refused =
          await()
              .atMost(Duration.ofSeconds(60))
              .until(
                  () -> h.client.getDisk("default", "u").orElseThrow(),
                  s -> s.phase() == DiskState.Phase.Failed);
      assertThat(refused.error().code()).isEqualTo("SourceNotAllowed");
      assertThat(refused.error().message()).contains("--allow-url");
      assertThat(requests).hasValue(0);

      assertThat(allowing.call("PUT", "/v1/disks/default/u", putBody("uid-u", spec)).statusCode())
          .isEqualTo(202);
      allowing.awaitReady("default", "u", Duration.ofSeconds(60));
      assertThat(requests).hasValue(1);
    } finally {
      mirror.stop(0);
    }
  }

  @Test
  void deleteDuringABuildStopsItAndLeavesNothing() throws Exception {
    StringBuilder hostPaths = new StringBuilder();
    for (int i = 0; i < 12; i++) {
      Path src = h.sources.resolve("t-" + i);
      Host.writeTree(src, 16, 1 << 20);
      hostPaths
          .append(i == 0 ? "" : ",")
          .append("{\"path\":\"")
          .append(src)
          .append("\",\"target\":\"/d/")
          .append(i)
          .append("\"}");
    }
    String body =
        putBody("uid-c", "{\"size\":\"512Mi\",\"populate\":{\"hostPaths\":[" + hostPaths + "]}}");
    assertThat(h.call("PUT", "/v1/disks/default/c", body).statusCode()).isEqualTo(202);
    await()
        .atMost(Duration.ofMinutes(1))
        .pollInterval(Duration.ofMillis(20))
        .until(() -> "Populate".equals(h.client.getDisk("default", "c").orElseThrow().stage()));
    HttpResponse<String> otherOwner = h.call("DELETE", "/v1/disks/default/c?uid=uid-x", null);
    assertThat(otherOwner.statusCode()).isEqualTo(409);
    assertThat(json(otherOwner).get("code").asText()).isEqualTo("NotOwner");
    assertThat(h.call("DELETE", "/v1/disks/default/c?uid=uid-c", null).statusCode()).isEqualTo(204);
    assertThat(h.call("GET", "/v1/disks/default/c", null).statusCode()).isEqualTo(404);
    try (var walk = Files.walk(h.root)) {
      assertThat(
              walk.filter(
                      p ->
                          !p.equals(h.root)
                              && !p.getFileName().toString().equals(".xenvbd.lock")
                              && (!Files.isDirectory(p)
                                  || p.getFileName().toString().contains(".tmp")))
                  .toList())
          .as("nothing left under the root")
          .isEmpty();
    }
  }

  @Test
  void getEndsWaitsForTheNextEndAndNamesTheDiskWhoseBuildEnded() throws Exception {
    OperationEnds before = h.client.ends("", 0, Duration.ZERO);
    assertThat(before.complete()).as("a first call, of no run yet").isFalse();
    CompletableFuture<OperationEnds> next =
        CompletableFuture.supplyAsync(
            () -> h.client.ends(before.epoch(), before.seq(), Duration.ofSeconds(8)));
    assertThat(
            h.call("PUT", "/v1/disks/default/ended", putBody("uid-e", "{\"size\":\"16Mi\"}"))
                .statusCode())
        .isEqualTo(202);
    OperationEnds ends = next.get(30, TimeUnit.SECONDS);
    assertThat(ends.complete()).isTrue();
    assertThat(ends.ended()).containsExactly(new OperationEnds.Ended("default", "ended", "uid-e"));
    assertThat(h.client.getDisk("default", "ended").orElseThrow().phase())
        .as("the state once its end is told")
        .isEqualTo(DiskState.Phase.Ready);

    HttpResponse<String> bad = h.call("GET", "/v1/ends?after=-1", null);
    assertThat(bad.statusCode()).isEqualTo(400);
    assertThat(json(bad).get("message").asText())
        .isEqualTo(
            "query parameter after must be a whole number 0 or more (the seq of the last answer),"
                + " not '-1'");
    assertThat(h.call("GET", "/v1/ends?wait=60000", null).statusCode()).isEqualTo(400);
    try (RawHttps c = RawHttps.connect(h.clientSsl, h.agent.address(), Duration.ofSeconds(5))) {
      // what java.net.URI would not send: a malformed escape
      c.send(
          "GET /v1/ends?epoch=%zz HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer "
              + h.token
              + "\r\n\r\n");
      assertThat(c.readResponse().status()).isEqualTo(400);
    }
  }
}
