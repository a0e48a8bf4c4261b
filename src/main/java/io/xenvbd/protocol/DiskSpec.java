package io.xenvbd.protocol;

import com.fasterxml.jackson.annotation.JsonInclude;
import java.util.List;

/**
 * The disk an agent is asked to build: the agent protocol's own form of it, not the CRD's. Its
 * field names are those of the VirtualDisk spec it started as (version 1 of the wire was that spec
 * serialized), so every caller from version 1 on is understood; a field added later is listed, with
 * the version that brought it, in {@link Protocol.Field#TABLE}. An absent field means the CRD's
 * default: the agent fills defaults in, as the API server would.
 *
 * <p>{@code nodeName} and {@code reclaimPolicy} are checked (nodeName) or ignored (reclaimPolicy)
 * by the agent but kept, because a version-1 operator sends them and the agent refuses unknown
 * fields; {@code xen} is checked only: the operator writes the xl {@code disk=} lines, not the
 * agent.
 */
@JsonInclude(JsonInclude.Include.NON_NULL)
public record DiskSpec(
    String nodeName,
    String size,
    Filesystem filesystem,
    Populate populate,
    Tailor tailor,
    Xen xen,
    Boolean preallocate,
    ReclaimPolicy reclaimPolicy) {

  public enum Filesystem {
    ext2,
    ext3,
    ext4,
    xfs,
    none
  }

  public enum ReclaimPolicy {
    Delete,
    Retain
  }

  /** Sources copied into a new image: cloneFrom, archive, hostPaths, createDirs. */
  @JsonInclude(JsonInclude.Include.NON_NULL)
  public record Populate(
      List<HostPath> hostPaths,
      Archive archive,
      CloneFrom cloneFrom,
      List<String> createDirs,
      Method method,
      Adopt adopt,
      Remote moveFrom) {
    /** The populate of protocol versions before 6, without a move. */
    public Populate(
        List<HostPath> hostPaths,
        Archive archive,
        CloneFrom cloneFrom,
        List<String> createDirs,
        Method method,
        Adopt adopt) {
      this(hostPaths, archive, cloneFrom, createDirs, method, adopt, null);
    }

    /**
     * A move (protocol 6): the image is this very disk's image on node {@code from.node()},
     * streamed byte for byte, and nothing else of the populate applies.
     */
    public static Populate move(Remote from) {
      return new Populate(null, null, null, null, null, null, from);
    }

    /** The populate of protocol versions before 4, without adoption. */
    public Populate(
        List<HostPath> hostPaths,
        Archive archive,
        CloneFrom cloneFrom,
        List<String> createDirs,
        Method method) {
      this(hostPaths, archive, cloneFrom, createDirs, method, null);
    }
  }

  /**
   * An existing image to take over instead of building one (protocol 4): a released image by its
   * former {@code name} (and {@code namespace}) or filesystem {@code uuid}, or a file of the
   * agent's import directory by its plain name. Names only: the agent resolves each under its own
   * roots.
   */
  @JsonInclude(JsonInclude.Include.NON_NULL)
  public record Adopt(String name, String namespace, String uuid, String importFile) {}

  public enum Method {
    Auto,
    LoopMount,
    Offline
  }

  @JsonInclude(JsonInclude.Include.NON_NULL)
  public record HostPath(String path, String target) {}

  @JsonInclude(JsonInclude.Include.NON_NULL)
  public record Archive(String source, String sha256) {}

  /**
   * Another disk of the same namespace on this node to copy. {@code uid} (protocol 3) is the owner
   * uid of the source the operator saw Ready: the agent clones only an image that uid owns, so a
   * source deleted and recreated under the same name (or an image another VirtualDisk left behind)
   * is never copied in its place. Absent: the source is taken by name alone, as before version 3.
   */
  @JsonInclude(JsonInclude.Include.NON_NULL)
  public record CloneFrom(String name, String uid, Remote remote) {
    /** A source on this node. */
    public CloneFrom(String name, String uid) {
      this(name, uid, null);
    }
  }

  /**
   * A clone source on another node (protocol 5): the node's name, its agent's endpoint as its
   * Dom0Node advertises it, and a single-use transfer ticket that agent issued to the operator for
   * this one image. The operator fills all three in; a tenant never names a node's endpoint. The
   * target agent fetches the image over TLS from {@code endpoint} only if the server's certificate
   * proves {@code node} (see {@link AgentTrust}), and sends the ticket, never a token.
   */
  @JsonInclude(JsonInclude.Include.NON_NULL)
  public record Remote(String node, String endpoint, String ticket) {
    @Override
    public String toString() {
      return "Remote[node=" + node + ", endpoint=" + endpoint + ", ticket=(hidden)]";
    }
  }

  /**
   * Written into the image, never into dom0. (A move, {@link Populate#moveFrom()}, reuses {@link
   * Remote}: the source node, its agent's endpoint and a ticket for the disk's own image there.)
   */
  @JsonInclude(JsonInclude.Include.NON_NULL)
  public record Tailor(String hostname, List<FstabEntry> fstab, List<File> files) {}

  @JsonInclude(JsonInclude.Include.NON_NULL)
  public record FstabEntry(
      String device, String mountPoint, String type, String options, Integer dump, Integer pass) {}

  @JsonInclude(JsonInclude.Include.NON_NULL)
  public record File(String path, String content, String mode) {}

  @JsonInclude(JsonInclude.Include.NON_NULL)
  public record Xen(String vdev, Access access, BackendType backendType) {}

  public enum Access {
    rw,
    ro
  }

  public enum BackendType {
    phy,
    tap,
    qdisk
  }
}
