package io.xenvbd.api;

import java.util.regex.Pattern;

/**
 * Patterns, limits and CEL rule messages shared by the schema annotations and {@link SpecRules}, so
 * that the API server, the operator and the agent refuse the same things in the same words.
 */
public final class Validation {
  private Validation() {}

  /**
   * A Kubernetes quantity greater than zero, with a binary or decimal suffix (no exponent forms).
   */
  public static final String POSITIVE_QUANTITY =
      "^([0-9]*[1-9][0-9]*(\\.[0-9]+)?|[0-9]*\\.[0-9]*[1-9][0-9]*)(Ki|Mi|Gi|Ti|Pi|Ei|k|M|G|T|P|E)?$";

  /**
   * An absolute path with no "." or ".." component, no control characters and no trailing slash.
   */
  public static final String ABSOLUTE_PATH = "^(/|(/[^/\\x00-\\x1f\\x7f]+)+)$";

  /**
   * A DNS-1123 label, what Kubernetes allows as a namespace name: lower-case letters, digits and
   * '-', at most 63 characters. The one definition every layer checks names against.
   */
  public static final String DNS1123_LABEL = "^[a-z0-9]([-a-z0-9]{0,61}[a-z0-9])?$";

  /**
   * A DNS-1123 subdomain, what Kubernetes allows as an object or node name: labels of lower-case
   * letters, digits and '-' joined by dots, so never "..", never a slash, one path segment. The
   * length ({@link #MAX_NAME}) is checked apart; {@link #isDns1123Subdomain} checks both.
   */
  public static final String DNS1123_SUBDOMAIN =
      "^[a-z0-9]([-a-z0-9]*[a-z0-9])?(\\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*$";

  /** spec.nodeName: empty (the operator chooses) or a node name. */
  public static final String NODE_NAME = "^$|" + DNS1123_SUBDOMAIN;

  /** A guest hostname: RFC 1123 labels separated by dots. */
  public static final String HOSTNAME =
      "^[A-Za-z0-9]([-A-Za-z0-9]{0,61}[A-Za-z0-9])?(\\.[A-Za-z0-9]([-A-Za-z0-9]{0,61}[A-Za-z0-9])?)*$";

  /** Virtual device names xl accepts: xvd*, sd* and hd* with an optional partition number. */
  public static final String VDEV = "^(xvd|sd|hd)[a-z]{1,3}[0-9]{0,3}$";

  /** A single fstab field: no whitespace, no control characters, not empty. */
  public static final String FSTAB_FIELD = "^[^\\s\\x00-\\x1f\\x7f#]+$";

  /**
   * An fstab mount point: an absolute path, none or swap, with nothing that would split the line.
   */
  public static final String FSTAB_MOUNT_POINT = "^(/[^\\s\\x00-\\x1f\\x7f#]*|none|swap)$";

  public static final int MAX_FSTAB_DEVICE = 256;
  public static final int MAX_FSTAB_MOUNT_POINT = 1024;
  public static final int MAX_FSTAB_TYPE = 64;
  public static final int MAX_FSTAB_OPTIONS = 1024;

  /** An octal file mode. */
  public static final String FILE_MODE = "^0?[0-7]{3,4}$";

  public static final String SHA256 = "^[a-f0-9]{64}$";

  /** An absolute path on the node, or an http(s) URL. */
  public static final String ARCHIVE_SOURCE =
      "^(/[^\\x00-\\x1f\\x7f]+|https?://[^\\s\\x00-\\x1f\\x7f]+)$";

  /** A Kubernetes object name. */
  public static final String OBJECT_NAME = DNS1123_SUBDOMAIN;

  public static final int MAX_HOST_PATHS = 32;
  public static final int MAX_CREATE_DIRS = 64;
  public static final int MAX_FSTAB_ENTRIES = 64;
  public static final int MAX_FILES = 64;

  /** Per tailored file; the whole object must also fit in etcd's 1.5 MiB. */
  public static final int MAX_FILE_CONTENT = 65536;

  /** A path (PATH_MAX) or an archive URL. */
  public static final int MAX_PATH = 4096;

  /** One component of a path (NAME_MAX). */
  public static final int MAX_PATH_COMPONENT = 255;

  /** Node and object names (DNS-1123 subdomains). */
  public static final int MAX_NAME = 253;

  /** spec.size: far more than any quantity of bytes needs. */
  public static final int MAX_SIZE_TEXT = 64;

  /*
   * The smallest image each filesystem can be made in, measured with `truncate -s N f; mkfs -f f`
   * (xfsprogs 6.1, e2fsprogs 1.47, the engine's own options): mkfs.xfs refuses anything under
   * 300 MiB; mke2fs formats ext2 from 104 KiB (asked here: 128 KiB, a margin for other versions),
   * and makes ext3/ext4 below 2 MiB silently without a journal, which is ext2 under another name.
   */
  public static final String XFS_MIN_SIZE = "300Mi";
  public static final String EXT_JOURNAL_MIN_SIZE = "2Mi";
  public static final String EXT2_MIN_SIZE = "128Ki";
  public static final String XFS_TOO_SMALL =
      "spec.size must be at least "
          + XFS_MIN_SIZE
          + " for xfs (mkfs.xfs makes no smaller filesystem): raise spec.size or choose ext4";
  public static final String EXT_JOURNAL_TOO_SMALL =
      "spec.size must be at least "
          + EXT_JOURNAL_MIN_SIZE
          + " for ext3 and ext4 (a smaller one has no room for its journal): raise spec.size or choose ext2";
  public static final String EXT2_TOO_SMALL =
      "spec.size must be at least "
          + EXT2_MIN_SIZE
          + " for ext2 (mke2fs makes no smaller filesystem): raise spec.size";

  /**
   * The spec fields that only shape the image when it is built. The operator cannot apply a change
   * of them to an image that exists (it would have to rebuild it, losing what the guest wrote), so
   * the CRD refuses every change, addition or removal once the VirtualDisk exists.
   */
  public static final String BUILD_TIME_FIELDS =
      "spec.filesystem, spec.populate, spec.tailor and spec.preallocate";

  /** What follows the field's name in the CRD's refusal of a change of a build-time field. */
  private static final String BUILD_TIME_ONLY =
      " cannot be changed, added or removed once the VirtualDisk exists: "
          + BUILD_TIME_FIELDS
          + " are build-time only; create a new VirtualDisk to build an image from other values";

  public static final String POPULATE_BUILD_TIME = "spec.populate" + BUILD_TIME_ONLY;
  public static final String TAILOR_BUILD_TIME = "spec.tailor" + BUILD_TIME_ONLY;
  public static final String PREALLOCATE_BUILD_TIME = "spec.preallocate" + BUILD_TIME_ONLY;

  /** A namespace: a DNS-1123 label. */
  public static final String NAMESPACE = DNS1123_LABEL;

  /**
   * An import file: one plain name in the node's import directory, never a path (no '/', never '.'
   * or '..').
   */
  public static final String IMPORT_FILE = "^[A-Za-z0-9_][A-Za-z0-9._-]*$";

  /**
   * At most this long: the agent parks it as {@code .import-<name>}, which must stay within
   * NAME_MAX (255).
   */
  public static final int MAX_IMPORT_FILE = 240;

  /** A filesystem UUID as blkid prints it for ext2/3/4 and xfs. */
  public static final String FILESYSTEM_UUID =
      "^[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}$";

  public static final String ADOPT_ONE =
      "spec.populate.adopt names exactly one image: give one of name, uuid or importFile";
  public static final String ADOPT_EXCLUSIVE =
      "spec.populate.adopt takes an image as it is: leave out"
          + " hostPaths, archive, cloneFrom, createDirs and spec.tailor (adoption never writes into the image)";
  public static final String CLONE_EXCLUSIVE =
      "populate.cloneFrom copies a whole image and cannot be combined with archive or hostPaths";

  private static final Pattern LABEL = Pattern.compile(DNS1123_LABEL);
  private static final Pattern SUBDOMAIN = Pattern.compile(DNS1123_SUBDOMAIN);

  /** A namespace name: a DNS-1123 label (null is not). */
  public static boolean isDns1123Label(String value) {
    return value != null && LABEL.matcher(value).matches();
  }

  /**
   * An object or node name: a DNS-1123 subdomain of at most {@link #MAX_NAME} characters (null is
   * not).
   */
  public static boolean isDns1123Subdomain(String value) {
    return value != null && value.length() <= MAX_NAME && SUBDOMAIN.matcher(value).matches();
  }
}
