package io.xenvbd.operator;

import io.xenvbd.api.Dom0Node;
import io.xenvbd.api.Populate;
import io.xenvbd.api.Tailor;
import io.xenvbd.api.VirtualDiskSpec;
import io.xenvbd.api.Xen;
import io.xenvbd.protocol.DiskSpec;
import io.xenvbd.protocol.Protocol;
import java.util.List;
import java.util.function.Function;

/**
 * The one place where a VirtualDisk spec becomes the agent protocol's {@link DiskSpec}, and where
 * the version a node's agent announces decides what it is sent. Every value is carried over as the
 * user wrote it (null entries of a list too), so that the agent's copy of the spec rules sees what
 * the operator's saw and refuses it in the same words.
 */
final class AgentRequests {
  private AgentRequests() {}

  /**
   * {@code spec} on the wire; {@code cloneSourceUid}: the uid of the VirtualDisk that
   * populate.cloneFrom names, as found now (null when there is none), so the agent clones only that
   * disk's image.
   */
  static DiskSpec toWire(VirtualDiskSpec spec, String cloneSourceUid) {
    return new DiskSpec(
        spec.nodeName(),
        spec.size(),
        spec.filesystem() == null ? null : DiskSpec.Filesystem.valueOf(spec.filesystem().name()),
        populate(spec.populate(), cloneSourceUid),
        tailor(spec.tailor()),
        xen(spec.xen()),
        spec.preallocate(),
        spec.reclaimPolicy() == null
            ? null
            : DiskSpec.ReclaimPolicy.valueOf(spec.reclaimPolicy().name()));
  }

  /**
   * The version a node's agent announces in its Dom0Node; agents before protocol 3 announce none
   * there: 1.
   */
  static int agentVersion(Dom0Node node) {
    var status = node == null ? null : node.getStatus();
    Integer announced =
        status == null || status.agent() == null ? null : status.agent().protocolVersion();
    return announced == null ? Protocol.UNVERSIONED : announced;
  }

  /** The AgentTooOld message: which field, which versions, and what to do. */
  static String tooOld(Protocol.Field lacking, String nodeName, int agentVersion) {
    return "this disk needs "
        + lacking.name()
        + ", which came with agent protocol "
        + lacking.since()
        + ", but the agent on node "
        + nodeName
        + " speaks protocol "
        + agentVersion
        + ": upgrade the agent on node "
        + nodeName
        + " (nothing was sent to it, so nothing was built or changed)";
  }

  private static DiskSpec.Populate populate(Populate p, String cloneSourceUid) {
    if (p == null) return null;
    return new DiskSpec.Populate(
        map(p.hostPaths(), h -> new DiskSpec.HostPath(h.path(), h.target())),
        p.archive() == null
            ? null
            : new DiskSpec.Archive(p.archive().source(), p.archive().sha256()),
        p.cloneFrom() == null ? null : new DiskSpec.CloneFrom(p.cloneFrom().name(), cloneSourceUid),
        p.createDirs(),
        p.method() == null ? null : DiskSpec.Method.valueOf(p.method().name()),
        p.adopt() == null
            ? null
            : new DiskSpec.Adopt(
                p.adopt().name(), p.adopt().namespace(), p.adopt().uuid(), p.adopt().importFile()));
  }

  private static DiskSpec.Tailor tailor(Tailor t) {
    if (t == null) return null;
    return new DiskSpec.Tailor(
        t.hostname(),
        map(
            t.fstab(),
            e ->
                new DiskSpec.FstabEntry(
                    e.device(), e.mountPoint(), e.type(), e.options(), e.dump(), e.pass())),
        map(t.files(), f -> new DiskSpec.File(f.path(), f.content(), f.mode())));
  }

  private static DiskSpec.Xen xen(Xen x) {
    if (x == null) return null;
    return new DiskSpec.Xen(
        x.vdev(),
        x.access() == null ? null : DiskSpec.Access.valueOf(x.access().name()),
        x.backendType() == null ? null : DiskSpec.BackendType.valueOf(x.backendType().name()));
  }

  /** Null stays null, and so does each null entry (Stream.toList keeps them). */
  private static <A, B> List<B> map(List<A> list, Function<A, B> f) {
    return list == null ? null : list.stream().map(a -> a == null ? null : f.apply(a)).toList();
  }
}
