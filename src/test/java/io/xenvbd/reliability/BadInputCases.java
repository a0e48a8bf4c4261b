package io.xenvbd.reliability;

import java.util.ArrayList;
import java.util.List;

/**
 * The bad-input table: each case is a spec a user could write, the channel that must refuse it (the
 * API at kubectl apply, or the operator through the Ready condition), and a fragment of the error
 * the user reads. Placeholders in braces are filled with the test's directories and URLs. The same
 * table is in docs/reliability.md.
 */
final class BadInputCases {
  private BadInputCases() {}

  enum Via {
    kubectl,
    operator
  }

  /** {@code reason} is the Ready condition's reason (operator cases only). */
  record Case(
      String id,
      String what,
      Via via,
      String namespace,
      String spec,
      String reason,
      String expect) {
    @Override
    public String toString() {
      return id + " " + what;
    }
  }

  static final String BIG_CONTENT = "x".repeat(65_537);

  static List<Case> all() {
    List<Case> c = new ArrayList<>();
    // Rejected by the API server at kubectl apply (schema patterns, enums, limits, CEL).
    k(c, "size zero", "size: \"0\"", "spec.size");
    k(c, "size negative", "size: \"-1Gi\"", "spec.size");
    k(c, "size not a quantity (GB)", "size: 2GB", "spec.size");
    k(c, "size words", "size: lots", "spec.size");
    k(c, "size missing", "filesystem: ext4", "spec.size");
    k(c, "unknown filesystem", "size: 1Gi\nfilesystem: btrfs", "spec.filesystem");
    k(
        c,
        "hostPaths path relative",
        "size: 1Gi\npopulate: {hostPaths: [{path: etc}]}",
        "spec.populate.hostPaths[0].path");
    k(
        c,
        "hostPaths target relative",
        "size: 1Gi\npopulate: {hostPaths: [{path: {ALLOWED}, target: srv}]}",
        "spec.populate.hostPaths[0].target");
    k(
        c,
        "createDirs relative",
        "size: 1Gi\npopulate: {createDirs: [tmp]}",
        "spec.populate.createDirs[0]");
    k(
        c,
        "tailor file path relative",
        "size: 1Gi\ntailor: {files: [{path: etc/motd, content: hi}]}",
        "spec.tailor.files[0].path");
    k(
        c,
        "archive file: URL",
        "size: 1Gi\npopulate: {archive: {source: \"file:///etc/passwd\"}}",
        "spec.populate.archive.source");
    k(
        c,
        "archive ftp: URL",
        "size: 1Gi\npopulate: {archive: {source: \"ftp://example.com/root.tar\"}}",
        "spec.populate.archive.source");
    k(
        c,
        "archive relative path",
        "size: 1Gi\npopulate: {archive: {source: root.tar}}",
        "spec.populate.archive.source");
    k(
        c,
        "archive sha256 not hex",
        "size: 1Gi\npopulate: {archive: {source: \"https://example.com/r.tar\", sha256: XYZ}}",
        "spec.populate.archive.sha256");
    k(
        c,
        "cloneFrom with archive",
        "size: 1Gi\npopulate: {cloneFrom: {name: base}, archive: {source: /srv/r.tar}}",
        "cannot be combined");
    k(
        c,
        "cloneFrom name invalid",
        "size: 1Gi\npopulate: {cloneFrom: {name: Bad_Name}}",
        "spec.populate.cloneFrom.name");
    k(c, "vdev nvme", "size: 1Gi\nxen: {vdev: nvme0n1}", "spec.xen.vdev");
    k(
        c,
        "vdev with injection",
        "size: 1Gi\nxen: {vdev: \"xvda1,w,target=/etc/shadow\"}",
        "spec.xen.vdev");
    k(c, "access unknown", "size: 1Gi\nxen: {access: rwx}", "spec.xen.access");
    k(c, "backendType unknown", "size: 1Gi\nxen: {backendType: nbd}", "spec.xen.backendType");
    k(
        c,
        "hostname with newline",
        "size: 1Gi\ntailor: {hostname: \"a\\nb\"}",
        "spec.tailor.hostname");
    k(
        c,
        "hostname with control char",
        "size: 1Gi\ntailor: {hostname: \"host\\u0007\"}",
        "spec.tailor.hostname");
    k(
        c,
        "fstab device with space",
        "size: 1Gi\ntailor: {fstab: [{device: \"UUID=a b\", mountPoint: /, type: ext4}]}",
        "spec.tailor.fstab[0].device");
    k(
        c,
        "fstab options with newline",
        "size: 1Gi\ntailor: {fstab: [{device: self, mountPoint: /, type: ext4, options: \"defaults\\n/dev/sda1 / ext4\"}]}",
        "spec.tailor.fstab[0].options");
    k(
        c,
        "fstab mountPoint relative",
        "size: 1Gi\ntailor: {fstab: [{device: self, mountPoint: mnt, type: ext4}]}",
        "spec.tailor.fstab[0].mountPoint");
    k(
        c,
        "fstab pass 3",
        "size: 1Gi\ntailor: {fstab: [{device: self, mountPoint: /, type: ext4, pass: 3}]}",
        "spec.tailor.fstab[0].pass");
    k(
        c,
        "file path with newline",
        "size: 1Gi\ntailor: {files: [{path: \"/etc/a\\nb\", content: x}]}",
        "spec.tailor.files[0].path");
    k(
        c,
        "file mode not octal",
        "size: 1Gi\ntailor: {files: [{path: /etc/a, content: x, mode: \"0999\"}]}",
        "spec.tailor.files[0].mode");
    k(
        c,
        "file content too large",
        "size: 1Gi\ntailor: {files: [{path: /etc/a, content: {BIG}}]}",
        "spec.tailor.files[0].content");
    k(c, "too many files (65)", "size: 1Gi\ntailor: {files: [{MANY_FILES}]}", "spec.tailor.files");
    k(
        c,
        "too many hostPaths (33)",
        "size: 1Gi\npopulate: {hostPaths: [{MANY_HOSTPATHS}]}",
        "spec.populate.hostPaths");
    k(
        c,
        "too many createDirs (65)",
        "size: 1Gi\npopulate: {createDirs: [{MANY_DIRS}]}",
        "spec.populate.createDirs");
    k(c, "nodeName not a DNS name", "size: 1Gi\nnodeName: Node_1", "spec.nodeName");
    k(c, "reclaimPolicy unknown", "size: 1Gi\nreclaimPolicy: Keep", "spec.reclaimPolicy");
    k(c, "method unknown", "size: 1Gi\npopulate: {method: Magic}", "spec.populate.method");
    // Accepted by the API, refused by the operator or the agent: Ready=False with reason and
    // message.
    o(
        c,
        "hostPaths with ..",
        "default",
        "size: 64Mi\npopulate: {hostPaths: [{path: \"{ALLOWED}/../etc\"}]}",
        "InvalidSpec",
        "no . or .. parts");
    o(
        c,
        "createDirs with ..",
        "default",
        "size: 64Mi\npopulate: {createDirs: [\"/tmp/../../etc\"]}",
        "InvalidSpec",
        "no . or .. parts");
    o(
        c,
        "tailor file path with ..",
        "default",
        "size: 64Mi\ntailor: {files: [{path: \"/etc/../../root/x\", content: x}]}",
        "InvalidSpec",
        "no . or .. parts");
    o(
        c,
        "archive path with ..",
        "default",
        "size: 64Mi\npopulate: {archive: {source: \"{ALLOWED}/../outside.tar\"}}",
        "InvalidSpec",
        "archive.source");
    o(
        c,
        "hostPaths outside the allowlist",
        "default",
        "size: 64Mi\npopulate: {hostPaths: [{path: /etc}]}",
        "ProvisioningFailed",
        "SourceNotAllowed");
    o(
        c,
        "hostPaths symlink escaping the allowlist",
        "default",
        "size: 64Mi\npopulate: {hostPaths: [{path: \"{ALLOWED}/escape\"}]}",
        "ProvisioningFailed",
        "is not under a source");
    o(
        c,
        "archive on the node outside the allowlist",
        "default",
        "size: 64Mi\npopulate: {archive: {source: \"{OUTSIDE}/outside.tar\"}}",
        "ProvisioningFailed",
        "SourceNotAllowed");
    o(
        c,
        "archive URL unreachable",
        "default",
        "size: 64Mi\npopulate: {archive: {source: \"http://127.0.0.1:9/root.tar\"}}",
        "ProvisioningFailed",
        "downloading http://127.0.0.1:9/root.tar failed");
    o(
        c,
        "archive URL 404",
        "default",
        "size: 64Mi\npopulate: {archive: {source: \"{HTTP}/missing.tar\"}}",
        "ProvisioningFailed",
        "HTTP 404");
    o(
        c,
        "archive wrong checksum",
        "default",
        "size: 64Mi\npopulate: {archive: {source: \"{HTTP}/good.tar\", sha256: \"{WRONG_SHA}\"}}",
        "ProvisioningFailed",
        "but the spec expects");
    o(
        c,
        "tar entry absolute",
        "default",
        "size: 64Mi\npopulate: {archive: {source: \"{ARCH}/absolute.tar\"}}",
        "ProvisioningFailed",
        "absolute entry name");
    o(
        c,
        "tar entry with ..",
        "default",
        "size: 64Mi\npopulate: {archive: {source: \"{ARCH}/dotdot.tar\"}}",
        "ProvisioningFailed",
        "'..' component");
    o(
        c,
        "tar symlink pointing out",
        "default",
        "size: 64Mi\npopulate: {archive: {source: \"{ARCH}/linkout.tar\"}}",
        "ProvisioningFailed",
        "points outside the image");
    o(
        c,
        "tar entry under its own symlink",
        "default",
        "size: 64Mi\npopulate: {archive: {source: \"{ARCH}/underlink.tar\"}}",
        "ProvisioningFailed",
        "placed under the symbolic link");
    o(
        c,
        "tar hard link out",
        "default",
        "size: 64Mi\npopulate: {archive: {source: \"{ARCH}/hardlink.tar\"}}",
        "ProvisioningFailed",
        "'..' component");
    o(
        c,
        "hostname written through an image symlink to dom0 /etc",
        "default",
        "size: 64Mi\npopulate: {archive: {source: \"{ARCH}/etclink.tar\"}}\ntailor: {hostname: pwned}",
        "ProvisioningFailed",
        "symbolic link");
    o(
        c,
        "tailor file through an image symlink",
        "default",
        "size: 64Mi\npopulate: {archive: {source: \"{ARCH}/etclink.tar\"}}\ntailor: {files: [{path: /etc/cron.d/evil, content: x}]}",
        "ProvisioningFailed",
        "symbolic link");
    o(
        c,
        "cloneFrom itself",
        "default",
        "size: 64Mi\npopulate: {cloneFrom: {name: {SELF}}}",
        "InvalidSpec",
        "itself");
    o(
        c,
        "cloneFrom a missing disk",
        "default",
        "size: 64Mi\npopulate: {cloneFrom: {name: nosuchdisk}}",
        "WaitingForSource",
        "does not exist");
    o(
        c,
        "cloneFrom a disk on another node, to an agent without --peer-ca",
        "default",
        "size: 64Mi\nnodeName: node-b\npopulate: {cloneFrom: {name: on-c}}",
        "ProvisioningFailed",
        "this agent cannot clone from another node: it was started without --peer-ca");
    o(
        c,
        "cloneFrom a disk in another namespace",
        "other",
        "size: 64Mi\npopulate: {cloneFrom: {name: base}}",
        "WaitingForSource",
        "does not exist in namespace other");
    o(
        c,
        "nodeName of no node",
        "default",
        "size: 64Mi\nnodeName: node-zzz",
        "NodeNotFound",
        "does not exist");
    o(
        c,
        "size larger than any node",
        "default",
        "size: 100Pi",
        "InsufficientStorage",
        "no dom0 node fits");
    // Added later, numbered on so that the ids above stay what the docs say.
    k(
        c,
        "xfs below its minimum",
        "size: 64Mi\nfilesystem: xfs",
        "spec.size must be at least 300Mi for xfs");
    k(c, "ext4 below its minimum", "size: 1Mi", "spec.size must be at least 2Mi for ext3 and ext4");
    o(
        c,
        "archive URL not allowed",
        "default",
        "size: 64Mi\npopulate: {archive: {source: \"https://mirror.example/root.tar\"}}",
        "ProvisioningFailed",
        "--allow-url");
    o(
        c,
        "archive URL on loopback by name",
        "default",
        "size: 64Mi\npopulate: {archive: {source: \"{HTTP_LOCALHOST}/good.tar\"}}",
        "ProvisioningFailed",
        "--allow-private-host");
    return c;
  }

  private static void k(List<Case> c, String what, String spec, String expect) {
    c.add(
        new Case(
            String.format("K%02d", c.size() + 1),
            what,
            Via.kubectl,
            "default",
            spec,
            null,
            expect));
  }

  private static void o(
      List<Case> c, String what, String ns, String spec, String reason, String expect) {
    c.add(
        new Case(
            String.format("O%02d", c.size() + 1), what, Via.operator, ns, spec, reason, expect));
  }
}
