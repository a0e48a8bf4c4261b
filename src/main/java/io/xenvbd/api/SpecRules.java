package io.xenvbd.api;

import io.xenvbd.api.VirtualDiskSpec.Filesystem;
import java.nio.charset.StandardCharsets;
import java.util.List;
import java.util.Optional;
import java.util.regex.Pattern;

/**
 * The rules a VirtualDisk spec keeps on its own: every pattern, limit and CEL rule of the CRD
 * (enums are kept by the Java types), and what the schema cannot say (no "." or ".." in a path, an
 * archive URL that parses). One set for both ends: the operator refuses a spec that breaks one with
 * InvalidSpec, the agent with 400 InvalidRequest, and both in these words, so that the agent holds
 * even when the operator is not its caller. Rules that need the cluster (transitions, the clone
 * source) are the operator's.
 */
public final class SpecRules {
  private SpecRules() {}

  /** The longest VirtualDisk name: 255 bytes of a file name less ".", ".img.json.tmp-", 12. */
  public static final int MAX_NAME = 255 - 1 - ".img.json.tmp-".length() - 12;

  private static final Pattern SIZE = Pattern.compile(Validation.POSITIVE_QUANTITY);
  private static final Pattern PATH = Pattern.compile(Validation.ABSOLUTE_PATH);
  private static final Pattern VDEV = Pattern.compile(Validation.VDEV);

  /**
   * The first rule {@code spec} breaks, as a message that says what to change; empty when it keeps
   * them all. {@code namespace} and {@code name} are the VirtualDisk's own (a clone of itself is
   * refused).
   */
  public static Optional<String> violation(String namespace, String name, VirtualDiskSpec spec) {
    if (name != null && name.length() > MAX_NAME) {
      // Kubernetes allows 253; the longest file a disk has, its metadata's temporary
      // ".NAME.img.json.tmp-" + 12 hex digits, must fit a file name (255 bytes): found in review,
      // longer names were accepted everywhere and failed at the end of a whole build.
      return Optional.of(
          "metadata.name is "
              + name.length()
              + " characters long; a VirtualDisk's name may have at most "
              + MAX_NAME
              + ", so that its image files fit a file name: choose a shorter name");
    }
    if (spec == null) return Optional.of("spec is missing: give at least spec.size");
    String problem = size(spec);
    if (problem == null) problem = nodeName(spec.nodeName());
    if (problem == null && !VDEV.matcher(spec.xen().vdev()).matches()) {
      problem =
          "spec.xen.vdev "
              + quote(spec.xen().vdev())
              + " is not a device xl accepts: use xvda1, xvdb, sda1 ...";
    }
    if (problem == null && spec.populate() != null)
      problem = populate(namespace, name, spec.populate());
    if (problem == null && spec.populate() != null && spec.populate().adopt() != null)
      problem = adopt(spec);
    if (problem == null && spec.tailor() != null) problem = TailorRules.violation(spec.tailor());
    return Optional.ofNullable(problem);
  }

  private static String size(VirtualDiskSpec spec) {
    String size = spec.size();
    if (size == null || size.length() > Validation.MAX_SIZE_TEXT || !SIZE.matcher(size).matches()) {
      return "spec.size "
          + quote(size)
          + " is not a positive quantity: use a form such as 2Gi or 500Mi";
    }
    long bytes;
    try {
      bytes = Sizes.bytes(size);
    } catch (IllegalArgumentException e) {
      return "spec." + e.getMessage();
    }
    Filesystem fs = spec.filesystem();
    if (fs == Filesystem.xfs && bytes < Sizes.bytes(Validation.XFS_MIN_SIZE))
      return Validation.XFS_TOO_SMALL;
    if ((fs == Filesystem.ext3 || fs == Filesystem.ext4)
        && bytes < Sizes.bytes(Validation.EXT_JOURNAL_MIN_SIZE)) {
      return Validation.EXT_JOURNAL_TOO_SMALL;
    }
    if (fs == Filesystem.ext2 && bytes < Sizes.bytes(Validation.EXT2_MIN_SIZE))
      return Validation.EXT2_TOO_SMALL;
    return null;
  }

  private static String nodeName(String node) {
    if (node == null || node.isEmpty()) return null;
    if (!Validation.isDns1123Subdomain(node)) {
      return "spec.nodeName " + quote(node) + " is not a valid node name (RFC 1123 subdomain)";
    }
    return null;
  }

  private static String populate(String namespace, String name, Populate p) {
    String problem = tooMany("spec.populate.hostPaths", p.hostPaths(), Validation.MAX_HOST_PATHS);
    for (int i = 0; problem == null && i < p.hostPaths().size(); i++) {
      Populate.HostPath hp = p.hostPaths().get(i);
      String at = "spec.populate.hostPaths[" + i + "]";
      if (hp == null) return at + " is empty: give its path";
      problem = path(at + ".path", hp.path());
      if (problem == null && hp.target() != null) problem = path(at + ".target", hp.target());
    }
    if (problem == null)
      problem = tooMany("spec.populate.createDirs", p.createDirs(), Validation.MAX_CREATE_DIRS);
    for (int i = 0; problem == null && i < p.createDirs().size(); i++) {
      problem = path("spec.populate.createDirs[" + i + "]", p.createDirs().get(i));
    }
    if (problem == null && p.archive() != null) problem = ArchiveSource.violation(p.archive());
    if (problem == null && p.cloneFrom() != null) problem = cloneFrom(namespace, name, p);
    return problem;
  }

  private static String cloneFrom(String namespace, String name, Populate p) {
    if (p.archive() != null || !p.hostPaths().isEmpty()) return Validation.CLONE_EXCLUSIVE;
    String source = p.cloneFrom().name();
    if (!Validation.isDns1123Subdomain(source)) {
      return "spec.populate.cloneFrom.name " + quote(source) + " is not a valid object name";
    }
    if (source.equals(name)) {
      return "populate.cloneFrom names this VirtualDisk itself: name another disk in namespace "
          + namespace;
    }
    return null;
  }

  private static final Pattern NAMESPACE = Pattern.compile(Validation.NAMESPACE);
  private static final Pattern IMPORT_FILE = Pattern.compile(Validation.IMPORT_FILE);
  private static final Pattern UUID = Pattern.compile(Validation.FILESYSTEM_UUID);

  /**
   * Adoption names an image, never a path: a released image by its former name (and namespace) or
   * filesystem UUID, or one plain file name in the agent's import directory. The agent resolves the
   * name itself, so nothing a tenant writes can reach outside the images root and that directory.
   */
  private static String adopt(VirtualDiskSpec spec) {
    Populate p = spec.populate();
    Populate.Adopt a = p.adopt();
    int given =
        (a.name() != null ? 1 : 0) + (a.uuid() != null ? 1 : 0) + (a.importFile() != null ? 1 : 0);
    if (given != 1) return Validation.ADOPT_ONE;
    if (p.archive() != null
        || p.cloneFrom() != null
        || !p.hostPaths().isEmpty()
        || !p.createDirs().isEmpty()
        || TailorRules.writes(spec.tailor())) {
      return Validation.ADOPT_EXCLUSIVE;
    }
    if (Boolean.TRUE.equals(spec.preallocate())) {
      return "spec.preallocate cannot be true with spec.populate.adopt: an adopted image keeps the allocation it has;"
          + " set spec.preallocate to false";
    }
    if (a.namespace() != null && a.name() == null) {
      return "spec.populate.adopt.namespace goes with adopt.name: leave it out, or give the name too";
    }
    if (a.name() != null && !Validation.isDns1123Subdomain(a.name())) {
      return "spec.populate.adopt.name "
          + quote(a.name())
          + " is not a valid object name: give the former name of"
          + " the released VirtualDisk (lower-case letters, digits, '-' and '.'), never a path";
    }
    if (a.namespace() != null && !NAMESPACE.matcher(a.namespace()).matches()) {
      return "spec.populate.adopt.namespace "
          + quote(a.namespace())
          + " is not a namespace name (a DNS-1123 label)";
    }
    if (a.uuid() != null && !UUID.matcher(a.uuid()).matches()) {
      return "spec.populate.adopt.uuid "
          + quote(a.uuid())
          + " is not a filesystem UUID: copy it from the Dom0Node's"
          + " status.released (e.g. 0b6b2a6e-3f7c-4d3e-9a52-5e1b1c2d3e4f)";
    }
    if (a.importFile() != null) {
      String f = a.importFile();
      if (f.length() > Validation.MAX_IMPORT_FILE || !IMPORT_FILE.matcher(f).matches()) {
        return "spec.populate.adopt.importFile "
            + quote(f)
            + " must be one plain file name in the node's import"
            + " directory (letters, digits, '.', '_' and '-', not starting with '.', at most "
            + Validation.MAX_IMPORT_FILE
            + " characters), never a path: no '/' and no '..'";
      }
      if (spec.nodeName() == null || spec.nodeName().isEmpty()) {
        return "spec.populate.adopt.importFile needs spec.nodeName: name the dom0 node whose import directory holds "
            + quote(f);
      }
    }
    return null;
  }

  static String tooMany(String field, List<?> items, int max) {
    return items.size() <= max
        ? null
        : field + " has " + items.size() + " entries: at most " + max + " are allowed";
  }

  /** A message when {@code value} is not an absolute path the agent may use, else null. */
  static String path(String field, String value) {
    if (value == null) return field + " is missing: give an absolute path";
    if (length(value) > Validation.MAX_PATH) {
      return field + " " + quote(value) + " is longer than " + Validation.MAX_PATH + " characters";
    }
    if (!PATH.matcher(value).matches()) {
      return field
          + " "
          + quote(value)
          + " must be an absolute path: starting with /, with no empty parts,"
          + " no trailing / and no control characters";
    }
    for (String part : value.split("/")) {
      if (part.equals(".") || part.equals("..")) {
        return field + " " + quote(value) + " must be an absolute path with no . or .. parts";
      }
      if (part.getBytes(StandardCharsets.UTF_8).length > Validation.MAX_PATH_COMPONENT) {
        return field
            + " "
            + quote(value)
            + " has a part longer than "
            + Validation.MAX_PATH_COMPONENT
            + " bytes, which no filesystem holds";
      }
    }
    return null;
  }

  /**
   * At most 80 characters of a value, anything but printable ASCII shown as '?': a message carries
   * no newline.
   */
  public static String quote(String value) {
    if (value == null) return "(missing)";
    String cut = value.length() > 80 ? value.substring(0, 80) + "..." : value;
    return "'" + cut.replaceAll("[^\\x20-\\x7e]", "?") + "'";
  }

  /** Lengths as the API server counts them: characters (code points), not UTF-16 units. */
  static int length(String value) {
    return value.codePointCount(0, value.length());
  }
}
