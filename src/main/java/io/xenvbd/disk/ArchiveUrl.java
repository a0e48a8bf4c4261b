package io.xenvbd.disk;

import java.net.URI;
import java.net.URISyntaxException;
import java.util.Locale;

/**
 * The one place an archive URL is parsed, normalised and compared with an allowed prefix, so the
 * URI that is checked is the URI that is requested.
 */
final class ArchiveUrl {
  private ArchiveUrl() {}

  /**
   * Why a string is not a URL the agent fetches, as the end of a sentence ("is not a valid URL
   * ...").
   */
  static final class Malformed extends Exception {
    Malformed(String reason) {
      super(reason, null, false, false);
    }
  }

  /**
   * {@code scheme://host[:port]/path[?query]}: scheme and host lower-cased, the scheme's default
   * port dropped, dot segments removed, the fragment dropped. Refuses other schemes, user info, a
   * missing host, and a '.' or '..' segment that is left after normalising or hidden by
   * percent-encoding (a server may decode it, and then the path it serves is not the path that was
   * checked).
   */
  static URI normalise(String s) throws Malformed {
    if (s == null || s.isBlank()) throw new Malformed("is empty");
    URI u;
    try {
      u = new URI(s);
    } catch (URISyntaxException e) {
      String why = e.getReason() == null ? "syntax error" : e.getReason();
      throw new Malformed(
          "is not a valid URL ("
              + why.toLowerCase(Locale.ROOT)
              + (e.getIndex() >= 0 ? " at index " + e.getIndex() : "")
              + ")");
    }
    String scheme = u.getScheme() == null ? "" : u.getScheme().toLowerCase(Locale.ROOT);
    if (!scheme.equals("http") && !scheme.equals("https"))
      throw new Malformed("is not an http or https URL");
    if (u.isOpaque()) throw new Malformed("has no host (write scheme://host/path)");
    if (u.getRawUserInfo() != null)
      throw new Malformed("carries a user name or password, which the agent never sends");
    String host = u.getHost();
    if (host == null || host.isEmpty()) throw new Malformed("has no valid host name");
    int port = u.getPort();
    if (port == 0 || port > 65535) throw new Malformed("has port " + port + ", outside 1-65535");
    String path = u.getRawPath() == null || u.getRawPath().isEmpty() ? "/" : u.getRawPath();
    URI n;
    try {
      n =
          new URI(
                  scheme
                      + "://"
                      + host.toLowerCase(Locale.ROOT)
                      + (port == -1 || port == defaultPort(scheme) ? "" : ":" + port)
                      + path
                      + (u.getRawQuery() == null ? "" : "?" + u.getRawQuery()))
              .normalize();
      n = new URI(n.toASCIIString());
    } catch (URISyntaxException e) {
      throw new Malformed("is not a valid URL");
    }
    for (String segment : n.getPath().split("/", -1)) {
      if (segment.equals(".")
          || segment.equals("..")
          || segment.startsWith(".;")
          || segment.startsWith("..;")) {
        throw new Malformed("has a '.' or '..' path segment (plain or percent-encoded)");
      }
    }
    return n;
  }

  /** The target of a redirect's Location (absolute or relative to {@code from}), normalised. */
  static URI redirect(URI from, String location) throws Malformed {
    URI loc;
    try {
      loc = new URI(location.strip());
    } catch (URISyntaxException e) {
      throw new Malformed("is not a valid URL");
    }
    return normalise(from.resolve(loc).toString());
  }

  /**
   * A normalised URL is under a normalised prefix when scheme, host and port are the same and its
   * path starts with the prefix's path, at a segment boundary: {@code https://a.example/x} covers
   * {@code /x} and {@code /x/...}, never {@code /xy}; {@code https://a.example/x/} covers {@code
   * /x/...}.
   */
  static boolean under(URI prefix, URI url) {
    if (!prefix.getScheme().equals(url.getScheme())
        || !prefix.getHost().equals(url.getHost())
        || prefix.getPort() != url.getPort()) {
      return false;
    }
    String pp = prefix.getRawPath();
    String up = url.getRawPath();
    return pp.endsWith("/") ? up.startsWith(pp) : up.equals(pp) || up.startsWith(pp + "/");
  }

  /** The host as written, without an IPv6 literal's brackets. */
  static String host(URI url) {
    String h = url.getHost();
    return h.startsWith("[") && h.endsWith("]") ? h.substring(1, h.length() - 1) : h;
  }

  /**
   * For messages: without the query (a signed URL's token stays out of status), at most 200
   * printable characters.
   */
  static String shown(URI url) {
    return shown(url.getScheme() + "://" + url.getRawAuthority() + url.getRawPath());
  }

  /**
   * For messages: a string from a spec or a server, made one printable line of at most 200
   * characters.
   */
  static String shown(String s) {
    if (s == null) return "''";
    StringBuilder b = new StringBuilder();
    for (int i = 0; i < s.length() && b.length() < 200; i++) {
      char c = s.charAt(i);
      b.append(c < 0x20 || c == 0x7f ? '?' : c);
    }
    return b.length() < s.length() ? b + "..." : b.toString();
  }

  private static int defaultPort(String scheme) {
    return scheme.equals("https") ? 443 : 80;
  }
}
