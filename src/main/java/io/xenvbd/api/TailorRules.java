package io.xenvbd.api;

import java.util.Locale;
import java.util.regex.Pattern;

/**
 * spec.tailor: what is written into the image. The hostname and every fstab field become a line or
 * a word of a file the guest parses, so none may carry whitespace or a newline (which would add an
 * fstab line of the tenant's choosing); a file's mode is octal digits only, never an option.
 */
final class TailorRules {
  private TailorRules() {}

  private static final Pattern HOSTNAME = Pattern.compile(Validation.HOSTNAME);
  private static final Pattern FIELD = Pattern.compile(Validation.FSTAB_FIELD);
  private static final Pattern MOUNT_POINT = Pattern.compile(Validation.FSTAB_MOUNT_POINT);
  private static final Pattern MODE = Pattern.compile(Validation.FILE_MODE);

  /** Whether {@code t} (may be null) writes anything into the image. */
  static boolean writes(Tailor t) {
    return t != null
        && ((t.hostname() != null && !t.hostname().isEmpty())
            || (t.fstab() != null && !t.fstab().isEmpty())
            || (t.files() != null && !t.files().isEmpty()));
  }

  static String violation(Tailor t) {
    if (t.hostname() != null
        && (t.hostname().length() > Validation.MAX_NAME
            || !HOSTNAME.matcher(t.hostname()).matches())) {
      return "spec.tailor.hostname "
          + SpecRules.quote(t.hostname())
          + " is not a valid hostname"
          + " (RFC 1123: letters, digits, '-' and '.', at most 253 characters)";
    }
    String problem =
        SpecRules.tooMany("spec.tailor.fstab", t.fstab(), Validation.MAX_FSTAB_ENTRIES);
    for (int i = 0; problem == null && i < t.fstab().size(); i++)
      problem = fstab("spec.tailor.fstab[" + i + "]", t.fstab().get(i));
    if (problem == null)
      problem = SpecRules.tooMany("spec.tailor.files", t.files(), Validation.MAX_FILES);
    for (int i = 0; problem == null && i < t.files().size(); i++)
      problem = file("spec.tailor.files[" + i + "]", t.files().get(i));
    return problem;
  }

  private static String fstab(String at, Tailor.FstabEntry e) {
    if (e == null) return at + " is empty: give its device, mountPoint and type";
    String problem =
        field(at + ".device", e.device(), FIELD, Validation.MAX_FSTAB_DEVICE, ONE_WORD);
    if (problem == null) {
      problem =
          field(
              at + ".mountPoint",
              e.mountPoint(),
              MOUNT_POINT,
              Validation.MAX_FSTAB_MOUNT_POINT,
              "an absolute path, none or swap, of at most %d characters with no spaces, tabs, newlines, control characters or '#'");
    }
    if (problem == null)
      problem = field(at + ".type", e.type(), FIELD, Validation.MAX_FSTAB_TYPE, ONE_WORD);
    if (problem == null)
      problem = field(at + ".options", e.options(), FIELD, Validation.MAX_FSTAB_OPTIONS, ONE_WORD);
    if (problem == null && (e.dump() < 0 || e.dump() > 1))
      return at + ".dump " + e.dump() + " must be 0 or 1";
    if (problem == null && (e.pass() < 0 || e.pass() > 2)) {
      return at
          + ".pass "
          + e.pass()
          + " must be 0 (no check), 1 (the root filesystem) or 2 (others)";
    }
    return problem;
  }

  private static final String ONE_WORD =
      "one word of at most %d characters: no spaces, tabs, newlines, control characters or '#'";

  private static String field(String at, String value, Pattern pattern, int max, String what) {
    if (value == null) return at + " is missing";
    if (SpecRules.length(value) > max || !pattern.matcher(value).matches()) {
      return at
          + " "
          + SpecRules.quote(value)
          + " must be "
          + String.format(Locale.ROOT, what, max);
    }
    return null;
  }

  private static String file(String at, Tailor.File f) {
    if (f == null) return at + " is empty: give its path and content";
    String problem = SpecRules.path(at + ".path", f.path());
    if (problem == null && f.path().equals("/"))
      return at + ".path '/' is the image's root directory: name a file";
    if (problem == null && f.content() == null)
      return at + ".content is missing: give the file's text (it may be empty)";
    if (problem == null && SpecRules.length(f.content()) > Validation.MAX_FILE_CONTENT) {
      return at
          + ".content has "
          + SpecRules.length(f.content())
          + " characters: at most "
          + Validation.MAX_FILE_CONTENT
          + " are allowed";
    }
    if (problem == null && !MODE.matcher(f.mode()).matches()) {
      return at
          + ".mode "
          + SpecRules.quote(f.mode())
          + " is not an octal file mode: use e.g. 0644 or 0600";
    }
    return problem;
  }
}
