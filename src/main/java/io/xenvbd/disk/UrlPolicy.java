package io.xenvbd.disk;

import java.net.InetAddress;
import java.net.URI;
import java.net.URISyntaxException;
import java.net.UnknownHostException;
import java.util.List;
import java.util.Locale;

/**
 * Which http(s) archive URLs the agent may fetch: only those under a prefix its admin allowed, and
 * never one whose destination is loopback, link-local, private, multicast or unspecified unless the
 * admin allowed that host by name. None is allowed by default.
 *
 * @param allowedPrefixes URL prefixes an archive source must be under (e.g. {@code
 *     https://mirror.example/images/}), kept normalised; a prefix covers its path and what is below
 *     it at a {@code /} boundary
 * @param allowedPrivateHosts host names (or IP literals) as written in the URL that may resolve to
 *     non-public addresses, e.g. an in-house mirror; lower-cased, IPv6 without brackets
 */
public record UrlPolicy(List<String> allowedPrefixes, List<String> allowedPrivateHosts) {
  public UrlPolicy {
    allowedPrefixes =
        (allowedPrefixes == null ? List.<String>of() : allowedPrefixes)
            .stream().map(UrlPolicy::prefix).map(URI::toString).toList();
    allowedPrivateHosts =
        (allowedPrivateHosts == null ? List.<String>of() : allowedPrivateHosts)
            .stream().map(UrlPolicy::privateHost).toList();
  }

  /** Nothing may be fetched: the default. */
  public static UrlPolicy none() {
    return new UrlPolicy(List.of(), List.of());
  }

  /**
   * {@code url} (normalised by {@link ArchiveUrl#normalise}) is under one of the allowed prefixes.
   */
  boolean allows(URI url) {
    return allowedPrefixes.stream().anyMatch(p -> ArchiveUrl.under(URI.create(p), url));
  }

  /** The admin vouched for this host (as written in the URL) reaching a non-public address. */
  boolean allowsPrivateHost(URI url) {
    return allowedPrivateHosts.contains(ArchiveUrl.host(url).toLowerCase(Locale.ROOT));
  }

  /**
   * Refuses {@code uri} (normalised) unless it is under an allowed prefix and, when its host is not
   * allowed by name, every address the host resolves to is public. {@code what} starts the message.
   */
  void admit(URI uri, String what) {
    if (!allows(uri)) {
      throw new DiskException(
          ErrorCode.SourceNotAllowed,
          what
              + " is not under a URL prefix this agent allows:"
              + " the agent's admin must allow its prefix with --allow-url");
    }
    if (allowsPrivateHost(uri)) return;
    String host = ArchiveUrl.host(uri);
    InetAddress[] addresses;
    try {
      addresses = InetAddress.getAllByName(host);
    } catch (UnknownHostException e) {
      throw new DiskException(
          ErrorCode.CommandFailed,
          what
              + " names host "
              + ArchiveUrl.shown(host)
              + ", which does not resolve: check the URL and the node's DNS",
          e);
    }
    for (InetAddress a : addresses) {
      String kind = NonPublicAddress.kind(a);
      if (kind != null) {
        throw new DiskException(
            ErrorCode.SourceNotAllowed,
            what
                + " names host "
                + ArchiveUrl.shown(host)
                + ", which resolves to "
                + a.getHostAddress()
                + " ("
                + kind
                + "), where the agent never fetches from:"
                + " the agent's admin must allow that host with --allow-private-host");
      }
    }
  }

  private static URI prefix(String p) {
    String given = p == null ? "" : p.strip();
    try {
      URI raw = new URI(given);
      if (raw.getRawQuery() != null || raw.getRawFragment() != null) {
        throw new IllegalArgumentException(
            "--allow-url '"
                + ArchiveUrl.shown(given)
                + "' has a query or fragment: give a prefix such as https://mirror.example/images/");
      }
      return ArchiveUrl.normalise(given);
    } catch (URISyntaxException | ArchiveUrl.Malformed e) {
      String why = e instanceof ArchiveUrl.Malformed ? e.getMessage() : "is not a valid URL";
      throw new IllegalArgumentException(
          "--allow-url '"
              + ArchiveUrl.shown(given)
              + "' "
              + why
              + ": give a prefix such as https://mirror.example/images/");
    }
  }

  private static String privateHost(String h) {
    String host = h == null ? "" : h.strip().toLowerCase(Locale.ROOT);
    if (host.startsWith("[") && host.endsWith("]")) host = host.substring(1, host.length() - 1);
    if (host.isEmpty() || !host.matches("[a-z0-9._:-]+")) {
      throw new IllegalArgumentException(
          "--allow-private-host '"
              + ArchiveUrl.shown(h)
              + "' is not a host name or IP address: give it as written in the URL, e.g. mirror.internal or 10.0.0.5");
    }
    return host;
  }
}
