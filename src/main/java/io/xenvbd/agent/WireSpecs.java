package io.xenvbd.agent;

import io.xenvbd.api.Populate;
import io.xenvbd.api.Tailor;
import io.xenvbd.api.VirtualDiskSpec;
import io.xenvbd.api.Xen;
import io.xenvbd.protocol.DiskSpec;
import java.util.List;
import java.util.function.Function;

/**
 * The agent's reading of a wire {@link DiskSpec}: the spec its disk engine builds and the shared
 * rules check ({@code api.SpecRules}, so the agent refuses what the operator refuses, in the same
 * words). Every value is carried over as sent, null entries of a list too, so that a rule sees what
 * the caller wrote; defaults are filled in as the CRD fills them.
 */
final class WireSpecs {
  private WireSpecs() {}

  static VirtualDiskSpec toApi(DiskSpec s) {
    return new VirtualDiskSpec(
        s.nodeName(),
        s.size(),
        s.filesystem() == null ? null : VirtualDiskSpec.Filesystem.valueOf(s.filesystem().name()),
        populate(s.populate()),
        tailor(s.tailor()),
        xen(s.xen()),
        s.preallocate(),
        s.reclaimPolicy() == null
            ? null
            : VirtualDiskSpec.ReclaimPolicy.valueOf(s.reclaimPolicy().name()));
  }

  /**
   * The owner uid the clone source must have, or null (not a clone, or a caller before protocol 3).
   */
  static String cloneSourceUid(DiskSpec s) {
    return s.populate() == null || s.populate().cloneFrom() == null
        ? null
        : s.populate().cloneFrom().uid();
  }

  private static Populate populate(DiskSpec.Populate p) {
    if (p == null) return null;
    return new Populate(
        map(p.hostPaths(), h -> new Populate.HostPath(h.path(), h.target())),
        p.archive() == null
            ? null
            : new Populate.Archive(p.archive().source(), p.archive().sha256()),
        p.cloneFrom() == null ? null : new Populate.CloneFrom(p.cloneFrom().name()),
        p.createDirs(),
        p.method() == null ? null : Populate.Method.valueOf(p.method().name()),
        p.adopt() == null
            ? null
            : new Populate.Adopt(
                p.adopt().name(), p.adopt().namespace(), p.adopt().uuid(), p.adopt().importFile()));
  }

  private static Tailor tailor(DiskSpec.Tailor t) {
    if (t == null) return null;
    return new Tailor(
        t.hostname(),
        map(
            t.fstab(),
            e ->
                new Tailor.FstabEntry(
                    e.device(), e.mountPoint(), e.type(), e.options(), e.dump(), e.pass())),
        map(t.files(), f -> new Tailor.File(f.path(), f.content(), f.mode())));
  }

  private static Xen xen(DiskSpec.Xen x) {
    if (x == null) return null;
    return new Xen(
        x.vdev(),
        x.access() == null ? null : Xen.Access.valueOf(x.access().name()),
        x.backendType() == null ? null : Xen.BackendType.valueOf(x.backendType().name()));
  }

  /** Null stays null, and so does each null entry (Stream.toList keeps them). */
  static <A, B> List<B> map(List<A> list, Function<A, B> f) {
    return list == null ? null : list.stream().map(a -> a == null ? null : f.apply(a)).toList();
  }
}
