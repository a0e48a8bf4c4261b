package io.xenvbd.api;

/** Patterns shared by the schema annotations and the operator's own checks. */
public final class Validation {
  private Validation() {}

  /** A Kubernetes quantity greater than zero, with a binary or decimal suffix (no exponent forms). */
  public static final String POSITIVE_QUANTITY =
      "^([0-9]*[1-9][0-9]*(\\.[0-9]+)?|[0-9]*\\.[0-9]*[1-9][0-9]*)(Ki|Mi|Gi|Ti|Pi|Ei|k|M|G|T|P|E)?$";
  /** An absolute path with no "." or ".." component, no control characters and no trailing slash. */
  public static final String ABSOLUTE_PATH =
      "^(/|(/[^/\\x00-\\x1f\\x7f]+)+)$";
  /** RFC 1123 DNS subdomain, as Kubernetes node names are. */
  public static final String NODE_NAME =
      "^$|^[a-z0-9]([-a-z0-9]*[a-z0-9])?(\\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*$";
  /** A guest hostname: RFC 1123 labels separated by dots. */
  public static final String HOSTNAME =
      "^[A-Za-z0-9]([-A-Za-z0-9]{0,61}[A-Za-z0-9])?(\\.[A-Za-z0-9]([-A-Za-z0-9]{0,61}[A-Za-z0-9])?)*$";
  /** Virtual device names xl accepts: xvd*, sd* and hd* with an optional partition number. */
  public static final String VDEV = "^(xvd|sd|hd)[a-z]{1,3}[0-9]{0,3}$";
  /** A single fstab field: no whitespace, no control characters, not empty. */
  public static final String FSTAB_FIELD = "^[^\\s\\x00-\\x1f\\x7f#]+$";
  /** An octal file mode. */
  public static final String FILE_MODE = "^0?[0-7]{3,4}$";
  public static final String SHA256 = "^[a-f0-9]{64}$";
  /** An absolute path on the node, or an http(s) URL. */
  public static final String ARCHIVE_SOURCE = "^(/[^\\x00-\\x1f\\x7f]+|https?://[^\\s\\x00-\\x1f\\x7f]+)$";
  /** A Kubernetes object name (DNS subdomain). */
  public static final String OBJECT_NAME = "^[a-z0-9]([-a-z0-9]*[a-z0-9])?(\\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*$";

  public static final int MAX_HOST_PATHS = 32;
  public static final int MAX_CREATE_DIRS = 64;
  public static final int MAX_FSTAB_ENTRIES = 64;
  public static final int MAX_FILES = 64;
  /** Per tailored file; the whole object must also fit in etcd's 1.5 MiB. */
  public static final int MAX_FILE_CONTENT = 65536;
}
