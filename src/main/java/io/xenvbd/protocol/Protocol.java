package io.xenvbd.protocol;

import java.util.List;
import java.util.Optional;
import java.util.function.Predicate;
import java.util.function.UnaryOperator;

/**
 * The version of the agent protocol each end speaks, and which request fields each version knows.
 * The operator sends its version in the {@link #HEADER} request header; the agent announces its own
 * in {@code GET /v1/node} ({@link NodeInfo#protocolVersion()}) and in its Dom0Node's {@code
 * status.agent.protocolVersion}. An agent refuses a request whose announced version is below its
 * minimum with HTTP 426 and code {@link ErrorCodes#OPERATOR_TOO_OLD}; the operator sends an agent
 * only the fields of {@link Field#TABLE} that the agent's version knows, and refuses to send a disk
 * that needs a newer one (condition AgentTooOld).
 *
 * <p>{@link #CURRENT} is this build. Other instances ({@link #simulated}) exist so that a test can
 * run an operator or an agent one version ahead or behind in the same JVM: the version, the minimum
 * and the field table are per instance, never a global to change.
 */
public final class Protocol {
  /**
   * The version this build speaks. 1: the unversioned wire (no header, no announcement); 2: both
   * ends announce; 3: {@link DiskSpec.CloneFrom#uid()}, the Dom0Node announcement, and DiskState
   * without the xl lines (the operator writes them); 4: {@link DiskSpec.Adopt} and {@code POST
   * /v1/disks/{namespace}/{name}/release} ({@link #RELEASE_SINCE}); 5: {@link
   * DiskSpec.CloneFrom#remote()}, a clone streamed from another node's agent, and that agent's
   * {@code /v1/transfers} routes; 6: {@link DiskSpec.Populate#moveFrom()}, a disk moved off a
   * draining node (its own image streamed from the old node's agent, byte for byte); 7: the
   * stream's fixed-length windows ({@code disk.TransferFormat}), which neither end of an older
   * stream reads; 8: {@code GET /v1/ends} ({@link #ENDS_SINCE}).
   */
  public static final int VERSION = 8;

  /**
   * The version that brought {@code GET /v1/ends}, the operations that ended, which the operator
   * long-polls per node to look at a disk when its build ends; an older agent's disks are polled.
   */
  public static final int ENDS_SINCE = 8;

  /**
   * The version of the stream format this build sends and reads (a clone streamed from another
   * node, a move off a draining node): the source's agent and the target's both need at least it.
   */
  public static final int STREAM_SINCE = 7;

  /**
   * The version that brought {@code POST .../release}, which marks a Retain disk's image released.
   * An older agent has no such call: the operator leaves its image as it was (kept, not released).
   */
  public static final int RELEASE_SINCE = 4;

  /** The oldest version this build still serves and talks to. */
  public static final int MIN_SUPPORTED = 1;

  /** The request header that carries the operator's version, e.g. {@code X-Xenvbd-Protocol: 3}. */
  public static final String HEADER = "X-Xenvbd-Protocol";

  /** What a caller that sends no header speaks: the wire from before versioning. */
  public static final int UNVERSIONED = 1;

  /** This build. */
  public static final Protocol CURRENT = new Protocol(VERSION, MIN_SUPPORTED, Field.TABLE);

  /**
   * A request field of {@link DiskSpec} that came after version 1. {@code without} gives the spec
   * without it, for a peer that does not know it, when leaving it out builds the same disk (the
   * field is a check, say); null when the field changes what is built, so a peer that does not know
   * it cannot serve the disk at all.
   */
  public record Field(
      String name, int since, Predicate<DiskSpec> usedBy, UnaryOperator<DiskSpec> without) {
    /** Every field added since version 1, with the version that brought it. */
    public static final List<Field> TABLE =
        List.of(
            new Field("spec.populate.cloneFrom.uid", 3, Field::hasCloneUid, Field::withoutCloneUid),
            // adoption takes an existing image instead of building one: an agent without it would
            // build a new one
            new Field("spec.populate.adopt", 4, Field::hasAdopt, null),
            // required: an agent that ignored it would look for the source on its own node and
            // fail, or
            // worse clone a same-named local image; it must never be sent to an agent that does not
            // know it
            new Field("spec.populate.cloneFrom.remote", 5, Field::hasRemote, null),
            // required: an agent that ignored it would build an empty disk where the data was to
            // arrive
            new Field("spec.populate.moveFrom", 6, Field::hasMove, null));

    public boolean required() {
      return without == null;
    }

    private static boolean hasCloneUid(DiskSpec s) {
      return s.populate() != null
          && s.populate().cloneFrom() != null
          && s.populate().cloneFrom().uid() != null;
    }

    private static boolean hasRemote(DiskSpec s) {
      return s.populate() != null
          && s.populate().cloneFrom() != null
          && s.populate().cloneFrom().remote() != null;
    }

    private static boolean hasMove(DiskSpec s) {
      return s.populate() != null && s.populate().moveFrom() != null;
    }

    private static boolean hasAdopt(DiskSpec s) {
      return s.populate() != null && s.populate().adopt() != null;
    }

    private static DiskSpec withoutCloneUid(DiskSpec s) {
      DiskSpec.Populate p = s.populate();
      DiskSpec.Populate bare =
          new DiskSpec.Populate(
              p.hostPaths(),
              p.archive(),
              new DiskSpec.CloneFrom(p.cloneFrom().name(), null, p.cloneFrom().remote()),
              p.createDirs(),
              p.method(),
              p.adopt(),
              p.moveFrom());
      return new DiskSpec(
          s.nodeName(),
          s.size(),
          s.filesystem(),
          bare,
          s.tailor(),
          s.xen(),
          s.preallocate(),
          s.reclaimPolicy());
    }
  }

  /**
   * What to send a peer: the spec with the fields it does not know left out, or the first field it
   * lacks.
   */
  public record Tailored(DiskSpec spec, Field lacking) {}

  private final int version;
  private final int minSupported;
  private final List<Field> fields;

  private Protocol(int version, int minSupported, List<Field> fields) {
    if (minSupported < 1 || minSupported > version) {
      throw new IllegalArgumentException(
          "a protocol's minimum must be between 1 and its version " + version);
    }
    this.version = version;
    this.minSupported = minSupported;
    this.fields = List.copyOf(fields);
  }

  /**
   * An end that speaks {@code version} and serves down to {@code minSupported}: for skew tests
   * only. {@code fields} are all the versioned fields this code can put in a DiskSpec ({@link
   * Field#TABLE}, or the table and a made-up later field); the end treats those after {@code
   * version} as unknown, as a build of that version would.
   */
  public static Protocol simulated(int version, int minSupported, List<Field> fields) {
    return new Protocol(version, minSupported, fields);
  }

  public int version() {
    return version;
  }

  public int minSupported() {
    return minSupported;
  }

  /** The header's value for this end's requests. */
  public String header() {
    return Integer.toString(version);
  }

  /**
   * {@code spec} for a peer that speaks {@code peerVersion}: a field that came after the older of
   * the two versions is left out when it may be, and the first one that may not is reported in
   * {@link Tailored#lacking()} (nothing is to be sent then).
   */
  public Tailored forPeer(DiskSpec spec, int peerVersion) {
    int common = Math.min(version, peerVersion);
    DiskSpec sent = spec;
    for (Field f : fields) {
      if (f.since() <= common || !f.usedBy().test(sent)) continue;
      if (f.required()) return new Tailored(null, f);
      sent = f.without().apply(sent);
    }
    return new Tailored(sent, null);
  }

  /**
   * The first field {@code spec} uses that came after this end's version: an agent of that version
   * would not know it, so it refuses it as an unknown field. Never one for {@link #CURRENT}.
   */
  public Optional<Field> unknownIn(DiskSpec spec) {
    return fields.stream().filter(f -> f.since() > version && f.usedBy().test(spec)).findFirst();
  }

  /**
   * The version a request header announces: {@link #UNVERSIONED} when there is none (a caller from
   * before versioning, or a person with curl), and an IllegalArgumentException when it is not a
   * number.
   */
  public static int announced(String header) {
    return parse(header).orElse(UNVERSIONED);
  }

  /** The header's number; empty without one; IllegalArgumentException when it is not a number. */
  public static Optional<Integer> parse(String header) {
    if (header == null || header.isBlank()) return Optional.empty();
    try {
      return Optional.of(Integer.parseInt(header.strip()));
    } catch (NumberFormatException e) {
      throw new IllegalArgumentException(
          HEADER
              + " '"
              + header
              + "' is not a number: send the protocol version"
              + " as a decimal integer, e.g. "
              + HEADER
              + ": "
              + VERSION);
    }
  }

  @Override
  public String toString() {
    return "Protocol[" + version + ", min " + minSupported + "]";
  }
}
