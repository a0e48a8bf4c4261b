package io.xenvbd.operator;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.catchThrowableOfType;
import static org.awaitility.Awaitility.await;

import io.xenvbd.api.Populate;
import io.xenvbd.api.Reasons;
import io.xenvbd.api.SpecRules;
import io.xenvbd.api.Tailor;
import io.xenvbd.api.VirtualDisk;
import io.xenvbd.api.VirtualDiskSpec;
import io.xenvbd.api.VirtualDiskSpec.Filesystem;
import io.xenvbd.api.Xen;
import io.xenvbd.protocol.AgentClient;
import io.xenvbd.protocol.AgentException;
import io.xenvbd.protocol.DiskState;
import io.xenvbd.protocol.ErrorCodes;
import io.xenvbd.protocol.PutDiskRequest;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.Collections;
import java.util.List;
import java.util.stream.Stream;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.Arguments;
import org.junit.jupiter.params.provider.MethodSource;

/**
 * Every spec the operator refuses on its own is refused by a real agent too, with the same message:
 * the operator's InvalidSpec condition and the agent's 400 InvalidRequest say the same thing, so a
 * caller that bypasses the operator gets no further than a tenant who goes through it.
 */
class RefusedAlikeByOperatorAndAgentTest {
  @TempDir static Path dir;
  static RealNodes nodes;
  static AgentClient agent;
  static String endpoint;
  final SpecValidator validator = new SpecValidator(ClusterView.of(List.of(), List.of()));

  @BeforeAll
  static void startAgent() {
    nodes = new RealNodes(dir, null);
    endpoint = nodes.start("node-a").endpoint().toString();
    agent = nodes.clients().forNode("node-a", endpoint);
  }

  @AfterAll
  static void stopAgent() {
    if (nodes != null) nodes.close();
  }

  static Stream<Arguments> cases() {
    List<Arguments> c = new ArrayList<>();
    for (String size :
        new String[] {"0", "-1Gi", "2GB", "lots", "1e3", "1".repeat(65), "99999999999Ei", "0.5"}) {
      c.add(
          Arguments.of(
              "size " + size, "spec.size", spec(size, Filesystem.ext4, null, null, null, null)));
    }
    c.add(
        Arguments.of(
            "xfs 64Mi", "300Mi for xfs", spec("64Mi", Filesystem.xfs, null, null, null, null)));
    c.add(
        Arguments.of(
            "ext4 1Mi",
            "2Mi for ext3 and ext4",
            spec("1Mi", Filesystem.ext4, null, null, null, null)));
    c.add(
        Arguments.of(
            "ext3 1Mi",
            "2Mi for ext3 and ext4",
            spec("1Mi", Filesystem.ext3, null, null, null, null)));
    c.add(
        Arguments.of(
            "ext2 64Ki", "128Ki for ext2", spec("64Ki", Filesystem.ext2, null, null, null, null)));
    c.add(
        Arguments.of(
            "nodeName Node_1", "spec.nodeName", spec("16Mi", null, "Node_1", null, null, null)));
    c.add(
        Arguments.of(
            "nodeName too long",
            "spec.nodeName",
            spec("16Mi", null, "n".repeat(254), null, null, null)));
    for (String vdev :
        new String[] {"xvda1, target=/etc/shadow", "xvda1,w", "nvme0n1", "xvda1 ", "xvda\n"}) {
      c.add(
          Arguments.of(
              "vdev " + vdev.strip(),
              "spec.xen.vdev",
              spec("16Mi", null, null, null, null, new Xen(vdev, null, null))));
    }
    populateCases(c);
    tailorCases(c);
    return c.stream();
  }

  static void populateCases(List<Arguments> c) {
    String[] badPaths = {
      "/srv/../etc",
      "etc",
      "/srv/",
      "/srv//x",
      "/srv/a\u0000b",
      "/srv/a\nb",
      "/" + "x".repeat(256),
      "/x".repeat(2049)
    };
    for (String p : badPaths) {
      c.add(
          Arguments.of(
              "hostPaths path " + p.length(),
              "spec.populate.hostPaths[0].path",
              populate(hostPaths(p, null), null, null, null)));
      c.add(
          Arguments.of(
              "hostPaths target " + p.length(),
              "spec.populate.hostPaths[0].target",
              populate(hostPaths("/srv", p), null, null, null)));
      c.add(
          Arguments.of(
              "createDirs " + p.length(),
              "spec.populate.createDirs[0]",
              populate(null, null, null, List.of(p))));
    }
    c.add(
        Arguments.of(
            "createDirs escaping",
            "no . or .. parts",
            populate(null, null, null, List.of("/../../../etc/x"))));
    c.add(
        Arguments.of(
            "hostPaths path missing",
            "spec.populate.hostPaths[0].path",
            populate(hostPaths(null, null), null, null, null)));
    c.add(
        Arguments.of(
            "hostPaths null entry",
            "spec.populate.hostPaths[0]",
            populate(Arrays.asList((Populate.HostPath) null), null, null, null)));
    c.add(
        Arguments.of(
            "hostPaths 33",
            "at most 32",
            populate(
                Collections.nCopies(33, new Populate.HostPath("/srv", null)), null, null, null)));
    c.add(
        Arguments.of(
            "createDirs null entry",
            "spec.populate.createDirs[0]",
            populate(null, null, null, Arrays.asList((String) null))));
    c.add(
        Arguments.of(
            "createDirs 65",
            "at most 64",
            populate(null, null, null, Collections.nCopies(65, "/tmp"))));
    for (String source :
        new String[] {
          "ftp://x/r.tar",
          "file:///etc/passwd",
          "r.tar",
          "/srv/../r.tar",
          "http://%zz/",
          "http:///x",
          "http://[::1/",
          "http://a_b/r.tar",
          "http://h:99999/r.tar",
          "HTTP://h/r.tar",
          "http://h/r tar",
          "/" + "x".repeat(4096)
        }) {
      c.add(
          Arguments.of(
              "archive " + source.substring(0, Math.min(20, source.length())),
              "spec.populate.archive.source",
              populate(null, new Populate.Archive(source, null), null, null)));
    }
    c.add(
        Arguments.of(
            "archive source missing",
            "spec.populate.archive.source",
            populate(null, new Populate.Archive(null, null), null, null)));
    c.add(
        Arguments.of(
            "archive sha256 XYZ",
            "spec.populate.archive.sha256",
            populate(
                null, new Populate.Archive("https://mirror.example/r.tar", "XYZ"), null, null)));
    c.add(
        Arguments.of(
            "archive sha256 upper case",
            "spec.populate.archive.sha256",
            populate(
                null,
                new Populate.Archive("https://mirror.example/r.tar", "A".repeat(64)),
                null,
                null)));
    Populate.CloneFrom base = new Populate.CloneFrom("base");
    c.add(
        Arguments.of(
            "cloneFrom with archive",
            "cannot be combined",
            populate(null, new Populate.Archive("/srv/r.tar", null), base, null)));
    c.add(
        Arguments.of(
            "cloneFrom with hostPaths",
            "cannot be combined",
            populate(hostPaths("/srv", null), null, base, null)));
    c.add(
        Arguments.of(
            "cloneFrom Bad_Name",
            "spec.populate.cloneFrom.name",
            populate(null, null, new Populate.CloneFrom("Bad_Name"), null)));
    c.add(
        Arguments.of(
            "cloneFrom missing name",
            "spec.populate.cloneFrom.name",
            populate(null, null, new Populate.CloneFrom(null), null)));
    c.add(
        Arguments.of(
            "cloneFrom itself", "itself", populate(null, null, new Populate.CloneFrom("d"), null)));
    adoptCases(c);
  }

  /**
   * A tenant names an image to adopt, never a path: both ends refuse anything else in the same
   * words.
   */
  static void adoptCases(List<Arguments> c) {
    for (String file :
        new String[] {
          "../etc/shadow", "/etc/shadow", "a/b", "..", ".", ".hidden", "x\ny", "f".repeat(241)
        }) {
      c.add(
          Arguments.of(
              "adopt importFile " + file.length(),
              "spec.populate.adopt.importFile",
              adopt(new Populate.Adopt(null, null, null, file), "n1")));
    }
    c.add(
        Arguments.of(
            "adopt importFile without node",
            "needs spec.nodeName",
            adopt(new Populate.Adopt(null, null, null, "vm1disk"), null)));
    c.add(
        Arguments.of(
            "adopt nothing",
            "exactly one image",
            adopt(new Populate.Adopt(null, null, null, null), "n1")));
    c.add(
        Arguments.of(
            "adopt two",
            "exactly one image",
            adopt(new Populate.Adopt("web", null, null, "vm1disk"), "n1")));
    c.add(
        Arguments.of(
            "adopt namespace only",
            "exactly one image",
            adopt(new Populate.Adopt(null, "ns1", null, null), "n1")));
    c.add(
        Arguments.of(
            "adopt Bad_Name",
            "spec.populate.adopt.name",
            adopt(new Populate.Adopt("Bad_Name", null, null, null), "n1")));
    c.add(
        Arguments.of(
            "adopt name path",
            "spec.populate.adopt.name",
            adopt(new Populate.Adopt("../web", null, null, null), "n1")));
    c.add(
        Arguments.of(
            "adopt namespace a/b",
            "spec.populate.adopt.namespace",
            adopt(new Populate.Adopt("web", "a/b", null, null), "n1")));
    c.add(
        Arguments.of(
            "adopt uuid",
            "spec.populate.adopt.uuid",
            adopt(new Populate.Adopt(null, null, "/dev/sda1", null), "n1")));
    c.add(
        Arguments.of(
            "adopt with hostPaths",
            "takes an image as it is",
            spec(
                "16Mi",
                null,
                "n1",
                new Populate(
                    hostPaths("/srv", null),
                    null,
                    null,
                    null,
                    null,
                    new Populate.Adopt("web", null, null, null)),
                null,
                null)));
    c.add(
        Arguments.of(
            "adopt with tailor",
            "takes an image as it is",
            spec(
                "16Mi",
                null,
                "n1",
                new Populate(
                    null, null, null, null, null, new Populate.Adopt("web", null, null, null)),
                new Tailor("h", null, null),
                null)));
  }

  static VirtualDiskSpec adopt(Populate.Adopt a, String node) {
    return spec("16Mi", null, node, new Populate(null, null, null, null, null, a), null, null);
  }

  static void tailorCases(List<Arguments> c) {
    for (String host :
        new String[] {
          "a\nb",
          "host\u0007",
          "",
          "-host",
          "a b",
          "h".repeat(64),
          ("a".repeat(63) + ".").repeat(4) + "a"
        }) {
      c.add(
          Arguments.of(
              "hostname " + host.length(),
              "spec.tailor.hostname",
              tailor(new Tailor(host, null, null))));
    }
    String[][] fstab = {
      {"UUID=a b", "/", "ext4", "defaults", "device"},
      {"self", "/", "ext4", "defaults\n/dev/sda1 / ext4", "options"},
      {"self", "mnt", "ext4", null, "mountPoint"},
      {"self", "/ x", "ext4", null, "mountPoint"},
      {"self", "/", "", null, "type"},
      {"self\t", "/", "ext4", null, "device"},
      {"#self", "/", "ext4", null, "device"},
      {null, "/", "ext4", null, "device"},
      {"self", null, "ext4", null, "mountPoint"},
      {"self", "/", null, null, "type"},
      {"x".repeat(257), "/", "ext4", null, "device"}
    };
    for (int i = 0; i < fstab.length; i++) {
      String[] f = fstab[i];
      c.add(
          Arguments.of(
              "fstab " + f[4] + " " + i,
              "spec.tailor.fstab[0]." + f[4],
              tailor(
                  new Tailor(
                      null,
                      List.of(new Tailor.FstabEntry(f[0], f[1], f[2], f[3], null, null)),
                      null))));
    }
    c.add(
        Arguments.of(
            "fstab pass 3",
            "spec.tailor.fstab[0].pass",
            tailor(
                new Tailor(
                    null, List.of(new Tailor.FstabEntry("self", "/", "ext4", null, 0, 3)), null))));
    c.add(
        Arguments.of(
            "fstab dump -1",
            "spec.tailor.fstab[0].dump",
            tailor(
                new Tailor(
                    null,
                    List.of(new Tailor.FstabEntry("self", "/", "ext4", null, -1, 0)),
                    null))));
    c.add(
        Arguments.of(
            "fstab null entry",
            "spec.tailor.fstab[0]",
            tailor(new Tailor(null, Arrays.asList((Tailor.FstabEntry) null), null))));
    c.add(
        Arguments.of(
            "fstab 65",
            "at most 64",
            tailor(
                new Tailor(
                    null,
                    Collections.nCopies(
                        65, new Tailor.FstabEntry("self", "/", "ext4", null, null, null)),
                    null))));
    for (String mode :
        new String[] {"--reference=/etc/shadow", "0999", "644 ", "u+s", "17777", "", "4755\n"}) {
      c.add(
          Arguments.of(
              "file mode " + mode.strip(),
              "spec.tailor.files[0].mode",
              file("/etc/motd", "hi", mode)));
    }
    for (String path :
        new String[] {"/etc/../../root/x", "etc/motd", "/", "/etc/a\nb", "/etc/./x"}) {
      c.add(
          Arguments.of(
              "file path " + path.length(), "spec.tailor.files[0].path", file(path, "x", null)));
    }
    c.add(Arguments.of("file path missing", "spec.tailor.files[0].path", file(null, "x", null)));
    c.add(
        Arguments.of(
            "file content missing", "spec.tailor.files[0].content", file("/etc/motd", null, null)));
    c.add(
        Arguments.of(
            "file content 65537",
            "spec.tailor.files[0].content",
            file("/etc/motd", "x".repeat(65_537), null)));
    // counted in characters, as the API server counts: 65536 two-unit characters fit
    c.add(
        Arguments.of(
            "file content 65537 emoji",
            "spec.tailor.files[0].content",
            file("/etc/motd", "\uD83D\uDE00".repeat(65_537), null)));
    c.add(
        Arguments.of(
            "files 65",
            "at most 64",
            tailor(
                new Tailor(
                    null, null, Collections.nCopies(65, new Tailor.File("/etc/x", "x", null))))));
    c.add(
        Arguments.of(
            "files null entry",
            "spec.tailor.files[0]",
            tailor(new Tailor(null, null, Arrays.asList((Tailor.File) null)))));
  }

  @ParameterizedTest(name = "{0}")
  @MethodSource("cases")
  void theOperatorAndTheAgentRefuseWithTheSameMessage(
      String what, String names, VirtualDiskSpec spec) throws Exception {
    refusedAlike(what, names, "d", spec);
  }

  /**
   * Found in review: a name of 229 to 253 characters (Kubernetes allows them) was accepted by both
   * and failed at the end of a whole build, writing its metadata's temporary file.
   */
  @Test
  void aNameTooLongForTheImagesFilesIsRefusedByBothAndTheLongestThatFitsBuilds() throws Exception {
    VirtualDiskSpec spec = spec("16Mi", Filesystem.ext4, null, null, null, null);
    assertThat(SpecRules.MAX_NAME).isEqualTo(228);
    refusedAlike("name of 229", "metadata.name is 229 characters long", "a".repeat(229), spec);
    String longest = "b".repeat(SpecRules.MAX_NAME);
    assertThat(validator.validate(Fixtures.disk("ns", longest, spec))).isEmpty();
    agent.putDisk("ns", longest, new PutDiskRequest("uid-2", AgentRequests.toWire(spec, null)));
    await()
        .atMost(Duration.ofSeconds(60))
        .until(
            () ->
                agent
                    .getDisk("ns", longest)
                    .map(d -> d.phase() == DiskState.Phase.Ready)
                    .orElse(false));
    agent.deleteDisk("ns", longest, "uid-2");
    await()
        .atMost(Duration.ofSeconds(60))
        .until(() -> !Files.exists(nodes.root("node-a").resolve("ns/" + longest + ".img")));
  }

  private void refusedAlike(String what, String names, String name, VirtualDiskSpec spec)
      throws Exception {
    VirtualDisk disk = Fixtures.disk("ns", name, spec);
    Outcome.Invalid invalid =
        validator
            .validate(disk)
            .orElseThrow(() -> new AssertionError(what + ": the operator accepted it"));
    assertThat(invalid.reason()).isEqualTo(Reasons.INVALID_SPEC);
    assertThat(invalid.message())
        .contains(names)
        .doesNotContain("\n")
        .doesNotContain("\u0000")
        .hasSizeLessThan(400);

    AgentException refused =
        catchThrowableOfType(
            () ->
                agent.putDisk(
                    "ns", name, new PutDiskRequest("uid-1", AgentRequests.toWire(spec, null))),
            AgentException.class);
    assertThat(refused).as(what + ": the agent accepted it").isNotNull();
    assertThat(refused.httpStatus()).isEqualTo(400);
    assertThat(refused.code()).isEqualTo(ErrorCodes.INVALID_REQUEST);
    assertThat(refused.getMessage()).isEqualTo("agent at " + endpoint + ": " + invalid.message());
    try (Stream<Path> files = Files.walk(nodes.root("node-a"))) {
      // The agent's own lock file (.xenvbd.lock) is not a disk's.
      assertThat(
              files
                  .filter(Files::isRegularFile)
                  .filter(f -> !f.getFileName().toString().equals(".xenvbd.lock")))
          .as("files under the images root")
          .isEmpty();
    }
  }

  /**
   * The boundaries are inside: what the table refuses is refused for the rule it names, not for
   * being near it.
   */
  @ParameterizedTest(name = "{0}")
  @MethodSource("accepted")
  void theSharedRulesAllowWhatTheSchemaAllows(String what, VirtualDiskSpec spec) {
    assertThat(SpecRules.violation("ns", "d", spec)).as(what).isEmpty();
  }

  static Stream<Arguments> accepted() {
    return Stream.of(
        Arguments.of("xfs 300Mi", spec("300Mi", Filesystem.xfs, null, null, null, null)),
        Arguments.of("ext4 2Mi", spec("2Mi", Filesystem.ext4, null, null, null, null)),
        Arguments.of("ext2 128Ki", spec("128Ki", Filesystem.ext2, null, null, null, null)),
        Arguments.of("none 1", spec("1", Filesystem.none, null, null, null, null)),
        Arguments.of(
            "vdev sda1",
            spec(
                "16Mi",
                null,
                "node-a",
                null,
                null,
                new Xen("sda1", Xen.Access.ro, Xen.BackendType.qdisk))),
        Arguments.of(
            "paths",
            populate(
                List.of(new Populate.HostPath("/srv/a..b/.x", "/opt/...")),
                null,
                null,
                List.of("/proc", "/" + "x".repeat(255)))),
        Arguments.of(
            "archive URL",
            populate(
                null,
                new Populate.Archive("http://[::1]:8080/r.tar?x=1#y", "a".repeat(64)),
                null,
                null)),
        Arguments.of(
            "clone", populate(null, null, new Populate.CloneFrom("base.v1"), List.of("/tmp"))),
        Arguments.of(
            "tailor",
            tailor(
                new Tailor(
                    "vm1.example.org",
                    List.of(
                        new Tailor.FstabEntry("self", "/", "ext4", "defaults,noatime", 1, 1),
                        new Tailor.FstabEntry("proc", "/proc", "proc", null, null, null)),
                    List.of(
                        new Tailor.File("/etc/motd", "\uD83D\uDE00".repeat(65_536), "600"),
                        new Tailor.File("/etc/x", "", "04755"))))));
  }

  static VirtualDiskSpec spec(
      String size, Filesystem fs, String node, Populate populate, Tailor tailor, Xen xen) {
    return new VirtualDiskSpec(node, size, fs, populate, tailor, xen, null, null);
  }

  static VirtualDiskSpec populate(
      List<Populate.HostPath> hostPaths,
      Populate.Archive archive,
      Populate.CloneFrom clone,
      List<String> dirs) {
    return spec(
        "16Mi", null, null, new Populate(hostPaths, archive, clone, dirs, null), null, null);
  }

  static List<Populate.HostPath> hostPaths(String path, String target) {
    return List.of(new Populate.HostPath(path, target));
  }

  static VirtualDiskSpec tailor(Tailor tailor) {
    return spec("16Mi", null, null, null, tailor, null);
  }

  static VirtualDiskSpec file(String path, String content, String mode) {
    return tailor(new Tailor(null, null, List.of(new Tailor.File(path, content, mode))));
  }
}
