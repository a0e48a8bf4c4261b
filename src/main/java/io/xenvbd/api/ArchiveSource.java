package io.xenvbd.api;

import java.net.URI;
import java.net.URISyntaxException;
import java.util.regex.Pattern;

/**
 * spec.populate.archive: a clean absolute path on the node, or an http(s) URL that parses and names
 * a host, so that no malformed URL reaches the agent's HTTP client (which would fail it as a bug,
 * not as bad input).
 */
final class ArchiveSource {
  private ArchiveSource() {}

  private static final Pattern SOURCE = Pattern.compile(Validation.ARCHIVE_SOURCE);
  private static final Pattern SHA256 = Pattern.compile(Validation.SHA256);
  private static final String FIELD = "spec.populate.archive.source";

  static String violation(Populate.Archive archive) {
    String source = archive.source();
    if (source == null)
      return FIELD + " is missing: give an absolute path on the node or an http(s) URL";
    if (SpecRules.length(source) > Validation.MAX_PATH || !SOURCE.matcher(source).matches()) {
      return FIELD
          + " "
          + SpecRules.quote(source)
          + " must be an absolute path on the node or an http(s) URL";
    }
    String problem = source.startsWith("/") ? SpecRules.path(FIELD, source) : url(source);
    if (problem == null
        && archive.sha256() != null
        && !SHA256.matcher(archive.sha256()).matches()) {
      problem = "spec.populate.archive.sha256 must be 64 lower-case hex digits";
    }
    return problem;
  }

  private static String url(String source) {
    String why;
    String shown = source;
    try {
      URI uri = new URI(source);
      if (uri.getHost() == null) {
        why = "it names no host";
      } else if (uri.getRawUserInfo() != null) {
        // not repeated into status, events and logs
        shown = source.replace(uri.getRawUserInfo() + "@", "***@");
        why = "it carries a user name or password, which every reader of the VirtualDisk sees";
      } else if (uri.getPort() == 0 || uri.getPort() > 65535) {
        why = "port " + uri.getPort() + " is out of range";
      } else {
        return null;
      }
    } catch (URISyntaxException e) {
      String reason =
          e.getReason(); // "Malformed escape pair", "Expected closing bracket for IPv6 address"
      why =
          Character.toLowerCase(reason.charAt(0))
              + reason.substring(1)
              + (e.getIndex() >= 0 ? " at index " + e.getIndex() : "");
    }
    return FIELD
        + " "
        + SpecRules.quote(shown)
        + " is not a URL the agent can fetch ("
        + why
        + "): write it as https://host[:port]/path";
  }
}
