package io.xenvbd.reliability;

import static org.assertj.core.api.Assertions.assertThat;

import com.sun.net.httpserver.HttpServer;
import io.xenvbd.api.VirtualDisk;
import io.xenvbd.disk.UrlPolicy;
import io.xenvbd.testing.Host;
import io.xenvbd.testing.Kubectl;
import io.xenvbd.testing.Manifests;
import java.net.InetSocketAddress;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.List;

/**
 * What the bad-input cases run against: two nodes (node-b allows one source directory, node-c
 * none), the operator, kubectl, an HTTP server for archive URLs, crafted archives, and two Ready
 * disks (default/base on node-b, default/on-c on node-c) to clone from and to change.
 */
final class BadFixture implements AutoCloseable {
  final Rig rig;
  final Kubectl kubectl;
  final Path rootB;
  final Path rootC;
  final Path allowed;
  final Path outside;
  final Path archives;
  final HttpServer http;

  private BadFixture(Path tmp) throws Exception {
    rig = new Rig(tmp.resolve("rig"));
    kubectl = new Kubectl(rig.kubeconfig);
    rootB = tmp.resolve("images-b");
    rootC = tmp.resolve("images-c");
    allowed = SourceTree.make(tmp.resolve("allowed"), 2, 4096);
    Files.createSymbolicLink(allowed.resolve("escape"), Path.of("/etc"));
    outside = Files.createDirectories(tmp.resolve("outside"));
    Archives.make(
        outside.resolve("outside.tar"),
        t -> Archives.file(t, "secret.txt", "from outside the allowlist\n"));
    archives = Files.createDirectories(allowed.resolve("archives"));
    Archives.make(archives.resolve("good.tar"), t -> Archives.file(t, "opt/ok.txt", "ok\n"));
    Archives.make(archives.resolve("absolute.tar"), t -> Archives.file(t, "/evil", "absolute\n"));
    Archives.make(
        archives.resolve("dotdot.tar"), t -> Archives.file(t, "../../../../../evil", "climbs\n"));
    Archives.make(
        archives.resolve("linkout.tar"),
        t -> Archives.symlink(t, "escape", "../../../../../../etc"));
    Archives.make(
        archives.resolve("underlink.tar"),
        t -> {
          Archives.symlink(t, "root", "/");
          Archives.file(t, "root/evil", "through the link\n");
        });
    Archives.make(
        archives.resolve("hardlink.tar"),
        t -> Archives.hardlink(t, "passwd", "../../../../etc/passwd"));
    Archives.make(archives.resolve("etclink.tar"), t -> Archives.symlink(t, "etc", "/etc"));
    Archives.make(
        archives.resolve("device.tar"),
        t -> {
          Archives.dir(t, "dev");
          Archives.charDevice(t, "dev/null", 1, 3);
          Archives.charDevice(t, "dev/mem", 1, 1);
        });
    http = HttpServer.create(new InetSocketAddress("127.0.0.1", 0), 8);
    http.createContext(
        "/",
        ex -> {
          Path f = archives.resolve(ex.getRequestURI().getPath().substring(1)).normalize();
          if (!f.startsWith(archives) || !Files.isRegularFile(f)) {
            ex.sendResponseHeaders(404, -1);
          } else {
            byte[] body = Files.readAllBytes(f);
            ex.sendResponseHeaders(200, body.length);
            ex.getResponseBody().write(body);
          }
          ex.close();
        });
    http.start();
    // Archive URLs: this fixture's server (also as localhost, whose host is not allowed by name)
    // and
    // a closed port; everything else stays refused, as on a real node.
    int port = http.getAddress().getPort();
    UrlPolicy urls =
        new UrlPolicy(
            List.of(
                "http://127.0.0.1:" + port + "/",
                "http://localhost:" + port + "/",
                "http://127.0.0.1:9/"),
            List.of("127.0.0.1"));
    rig.agent("node-b", rootB, List.of(allowed), rig.client, c -> c.urls(urls));
    rig.agent("node-c", rootC, List.of(), rig.client, c -> c.urls(urls));
    rig.startOperator();
    rig.apply(Manifests.disk("base", "64Mi", "nodeName: node-b"));
    rig.apply(Manifests.disk("on-c", "64Mi", "nodeName: node-c"));
    rig.awaitReady("base", Duration.ofSeconds(90));
    rig.awaitReady("on-c", Duration.ofSeconds(90));
  }

  static BadFixture start(Path tmp) throws Exception {
    return new BadFixture(tmp);
  }

  String fill(String spec, String self) {
    return spec.replace("{ALLOWED}", allowed.toString())
        .replace("{OUTSIDE}", outside.toString())
        .replace("{ARCH}", archives.toString())
        .replace("{HTTP}", "http://127.0.0.1:" + http.getAddress().getPort())
        .replace("{HTTP_LOCALHOST}", "http://localhost:" + http.getAddress().getPort())
        .replace("{WRONG_SHA}", "0".repeat(64))
        .replace("{SELF}", self)
        .replace("{BIG}", "\"" + BadInputCases.BIG_CONTENT + "\"")
        .replace(
            "{MANY_FILES}", BadInputTest.repeat(65, i -> "{path: /etc/f" + i + ", content: x}"))
        .replace("{MANY_HOSTPATHS}", BadInputTest.repeat(33, i -> "{path: /srv/p" + i + "}"))
        .replace("{MANY_DIRS}", BadInputTest.repeat(65, i -> "/d" + i));
  }

  /**
   * No image, no temporary file, no loop device or mount on either node; the fixture disks
   * untouched.
   */
  void assertNothingCreated(String namespace, String name) {
    for (Path root : List.of(rootB, rootC)) {
      assertThat(Host.images(root))
          .as("images on %s", root)
          .doesNotContain(namespace + "/" + name + ".img");
      assertThat(Host.leftovers(root)).as("temporary files on %s", root).isEmpty();
      assertThat(Host.loopsUnder(root)).isEmpty();
      assertThat(Host.mountsUnder(root)).isEmpty();
    }
    assertThat(Host.images(rootB)).contains("default/base.img");
    assertThat(Host.images(rootC)).containsExactly("default/on-c.img");
  }

  void deleteAndWait(String namespace, String name) {
    rig.client.resources(VirtualDisk.class).inNamespace(namespace).withName(name).delete();
    org.awaitility.Awaitility.await()
        .atMost(Duration.ofSeconds(60))
        .until(() -> rig.get(namespace, name) == null);
  }

  @Override
  public void close() {
    http.stop(0);
    rig.close();
    Host.releaseAll(rootB);
    Host.releaseAll(rootC);
  }
}
