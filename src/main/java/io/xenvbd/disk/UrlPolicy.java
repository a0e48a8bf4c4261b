package io.xenvbd.disk;

import java.util.List;

/**
 * Which http(s) archive URLs the agent may fetch: only those under a prefix its admin allowed, and
 * never one whose destination is loopback, link-local, private, multicast or unspecified unless the
 * admin allowed that host by name. None is allowed by default.
 *
 * @param allowedPrefixes URL prefixes an archive source must start with (e.g. {@code https://mirror.example/images/})
 * @param allowedPrivateHosts host names that may resolve to non-public addresses (e.g. an in-house mirror)
 */
public record UrlPolicy(List<String> allowedPrefixes, List<String> allowedPrivateHosts) {
  public UrlPolicy {
    allowedPrefixes = List.copyOf(allowedPrefixes == null ? List.of() : allowedPrefixes);
    allowedPrivateHosts = List.copyOf(allowedPrivateHosts == null ? List.of() : allowedPrivateHosts);
  }

  /** Nothing may be fetched: the default. */
  public static UrlPolicy none() {
    return new UrlPolicy(List.of(), List.of());
  }
}
