package io.xenvbd.reliability;

import static org.assertj.core.api.Assertions.assertThat;

import io.xenvbd.api.Dom0Node;
import io.xenvbd.api.Validation;
import io.xenvbd.protocol.PutDiskRequest;
import io.xenvbd.testing.Exec;
import io.xenvbd.testing.Host;
import io.xenvbd.testing.Manifests;
import java.io.IOException;
import java.net.URI;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.attribute.BasicFileAttributes;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.stream.Collectors;

/**
 * The rest of the bad-input table: changes to immutable fields of a Ready disk (kubectl apply), and
 * malformed or hostile calls straight to an agent with a valid token (what a compromised or buggy
 * client could send). Each returns the lines for the table and proves nothing changed.
 */
final class BadUpdatesAndCalls {
  private BadUpdatesAndCalls() {}

  static List<String> immutableChanges(BadFixture fx) throws Exception {
    Path base = fx.rootB.resolve("default/base.img");
    String before = identity(base);
    String[][] changes = {
      {"U01", "shrink 64Mi to 32Mi", "size: 32Mi\nnodeName: node-b", "never shrink"},
      {
        "U02",
        "filesystem ext4 to ext2",
        "size: 64Mi\nnodeName: node-b\nfilesystem: ext2",
        "spec.filesystem is immutable"
      },
      {
        "U03",
        "nodeName node-b to node-c",
        "size: 64Mi\nnodeName: node-c",
        "spec.nodeName is immutable once set"
      },
      {
        "U04",
        "populate added to a built disk",
        "size: 64Mi\nnodeName: node-b\npopulate: {createDirs: [/tmp]}",
        Validation.POPULATE_BUILD_TIME
      },
      {
        "U05",
        "tailor added to a built disk",
        "size: 64Mi\nnodeName: node-b\ntailor: {hostname: other}",
        Validation.TAILOR_BUILD_TIME
      },
      {
        "U06",
        "preallocate false to true",
        "size: 64Mi\nnodeName: node-b\npreallocate: true",
        Validation.PREALLOCATE_BUILD_TIME
      },
    };
    List<String> lines = new ArrayList<>();
    for (String[] c : changes) {
      Exec.Result r = fx.kubectl.apply(Manifests.diskIn("default", "base", c[2]));
      assertThat(r.exit()).as("%s %s accepted: %s", c[0], c[1], r.out()).isNotZero();
      assertThat(r.err()).as(c[1]).contains(c[3]);
      assertThat(
              fx.kubectl
                  .run(
                      "get",
                      "vd",
                      "base",
                      "-o",
                      "jsonpath={.spec.size} {.spec.filesystem} {.spec.nodeName} {.metadata.generation}"
                          + " {.spec.preallocate} populate={.spec.populate} tailor={.spec.tailor}")
                  .out())
          .isEqualTo("64Mi ext4 node-b 1 false populate= tailor=");
      assertThat(identity(base)).as("the image after %s", c[1]).isEqualTo(before);
      // kubectl first warns that base was created without apply; the table keeps the refusal
      String refusal =
          r.err().lines().filter(l -> !l.startsWith("Warning:")).collect(Collectors.joining(" "));
      lines.add(c[0] + " | " + c[1] + " | kubectl | " + BadInputTest.oneLine(refusal));
    }
    return lines;
  }

  static List<String> agentCalls(BadFixture fx) throws Exception {
    String endpoint =
        fx.rig
            .client
            .resources(Dom0Node.class)
            .withName("node-b")
            .get()
            .getStatus()
            .agent()
            .endpoint();
    HttpClient http =
        HttpClient.newBuilder()
            .sslContext(fx.rig.clientSsl)
            .connectTimeout(Duration.ofSeconds(5))
            .build();
    String uid = fx.rig.get("base").getMetadata().getUid();
    List<String> imagesBefore = Host.images(fx.rootB);
    String baseBefore = identity(fx.rootB.resolve("default/base.img"));
    String ok = "{\"uid\":\"x-1\",\"spec\":{\"size\":\"64Mi\"}}";
    Object[][] calls = {
      {
        "A01",
        "name with ../ (encoded)",
        "PUT",
        "/v1/disks/default/..%2F..%2Fetc%2Fpasswd",
        ok,
        400,
        "DNS-1123"
      },
      {"A02", "namespace not a DNS label", "PUT", "/v1/disks/Default_NS/x", ok, 400, "DNS-1123"},
      {"A03", "body not JSON", "PUT", "/v1/disks/default/x", "{not json", 400, ""},
      {
        "A04",
        "uid missing",
        "PUT",
        "/v1/disks/default/x",
        "{\"spec\":{\"size\":\"64Mi\"}}",
        400,
        "uid is required"
      },
      {
        "A05",
        "size negative",
        "PUT",
        "/v1/disks/default/x",
        "{\"uid\":\"x-1\",\"spec\":{\"size\":\"-5Mi\"}}",
        400,
        "size"
      },
      {
        "A06",
        "body over the agent's limit",
        "PUT",
        "/v1/disks/default/x",
        "{\"uid\":\"" + "a".repeat(PutDiskRequest.MAX_BODY_BYTES) + "\"}",
        413,
        "larger than"
      },
      {"A07", "delete without uid", "DELETE", "/v1/disks/default/base", null, 400, "uid"},
      {
        "A08",
        "PUT over another owner's image",
        "PUT",
        "/v1/disks/default/base",
        ok,
        409,
        "belongs to"
      },
      {
        "A09",
        "delete another owner's image",
        "DELETE",
        "/v1/disks/default/base?uid=x-1",
        null,
        409,
        "belongs to"
      },
      {"A10", "unknown path", "GET", "/v1/../../etc/passwd", null, 404, ""},
      // What the operator refuses, sent straight to the agent: the agent refuses it in the same
      // words.
      {
        "A11",
        "cloneFrom with archive",
        "PUT",
        "/v1/disks/default/x",
        spec(
            "{\"size\":\"64Mi\",\"populate\":{\"cloneFrom\":{\"name\":\"base\"},\"archive\":{\"source\":\"/srv/r.tar\"}}}"),
        400,
        "cannot be combined with archive or hostPaths"
      },
      {
        "A12",
        "tailor file mode an option",
        "PUT",
        "/v1/disks/default/x",
        spec(
            "{\"size\":\"64Mi\",\"tailor\":{\"files\":[{\"path\":\"/etc/motd\",\"content\":\"x\",\"mode\":\"--reference=/etc/shadow\"}]}}"),
        400,
        "is not an octal file mode"
      },
      {
        "A13",
        "createDirs escaping the image",
        "PUT",
        "/v1/disks/default/x",
        spec("{\"size\":\"64Mi\",\"populate\":{\"createDirs\":[\"/../../../etc/x\"]}}"),
        400,
        "no . or .. parts"
      },
      {
        "A14",
        "vdev injecting an xl target",
        "PUT",
        "/v1/disks/default/x",
        spec("{\"size\":\"64Mi\",\"xen\":{\"vdev\":\"xvda1, target=/etc/shadow\"}}"),
        400,
        "is not a device xl accepts"
      },
      {
        "A15",
        "archive URL that does not parse",
        "PUT",
        "/v1/disks/default/x",
        spec("{\"size\":\"64Mi\",\"populate\":{\"archive\":{\"source\":\"http://[::1/\"}}}"),
        400,
        "is not a URL the agent can fetch"
      },
      {
        "A16",
        "xfs below its minimum",
        "PUT",
        "/v1/disks/default/x",
        spec("{\"size\":\"64Mi\",\"filesystem\":\"xfs\"}"),
        400,
        "at least 300Mi for xfs"
      },
    };
    List<String> lines = new ArrayList<>();
    for (Object[] c : calls) {
      HttpRequest.Builder b =
          HttpRequest.newBuilder(URI.create(endpoint + c[3]))
              .timeout(Duration.ofSeconds(30))
              .header("Authorization", "Bearer " + fx.rig.token);
      b.method(
          (String) c[2],
          c[4] == null
              ? HttpRequest.BodyPublishers.noBody()
              : HttpRequest.BodyPublishers.ofString((String) c[4]));
      HttpResponse<String> r;
      try {
        r = http.send(b.build(), HttpResponse.BodyHandlers.ofString());
      } catch (IOException e) {
        throw new AssertionError(c[0] + " " + c[1] + ": no answer from the agent: " + e, e);
      }
      assertThat(r.statusCode()).as("%s %s: %s", c[0], c[1], r.body()).isEqualTo(c[5]);
      assertThat(r.body())
          .as("%s", c[1])
          .contains((String) c[6])
          .doesNotContain("Exception")
          .doesNotContain(fx.rig.token);
      lines.add(
          c[0]
              + " | "
              + c[1]
              + " | agent | HTTP "
              + r.statusCode()
              + " "
              + BadInputTest.oneLine(r.body()));
    }
    assertThat(Host.images(fx.rootB)).isEqualTo(imagesBefore);
    assertThat(Host.leftovers(fx.rootB)).isEmpty();
    assertThat(identity(fx.rootB.resolve("default/base.img"))).isEqualTo(baseBefore);
    assertThat(Path.of("/etc/passwd")).exists();
    assertThat(uid).isNotBlank();
    return lines;
  }

  private static String spec(String spec) {
    return "{\"uid\":\"x-1\",\"spec\":" + spec + "}";
  }

  static String identity(Path image) throws Exception {
    BasicFileAttributes a = Files.readAttributes(image, BasicFileAttributes.class);
    return a.fileKey() + " " + a.size() + " " + a.lastModifiedTime();
  }
}
