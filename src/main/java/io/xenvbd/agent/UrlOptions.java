package io.xenvbd.agent;

import io.xenvbd.disk.UrlPolicy;
import java.util.ArrayList;
import java.util.List;
import picocli.CommandLine.Option;

/**
 * {@code --allow-url} and {@code --allow-private-host} of the roles that run an agent (a picocli
 * mixin): which http(s) archive URLs it may fetch. Comma-separated in the environment twins, since
 * a URL has colons.
 */
public final class UrlOptions {
  @Option(
      names = "--allow-url",
      split = ",",
      paramLabel = "PREFIX",
      defaultValue = "${env:XENVBD_ALLOW_URLS}",
      description =
          "URL prefix an http(s) spec.populate.archive.source may start with, e.g."
              + " https://mirror.example/images/ (compared after normalising: scheme, host and port equal, the path"
              + " under the prefix's at a / boundary; every redirect too); repeatable (env XENVBD_ALLOW_URLS,"
              + " comma-separated). Default: none, every URL is refused.")
  List<String> allowUrls = new ArrayList<>();

  @Option(
      names = "--allow-private-host",
      split = ",",
      paramLabel = "HOST",
      defaultValue = "${env:XENVBD_ALLOW_PRIVATE_HOSTS}",
      description =
          "Host of an allowed URL, exactly as written in it (a name or an IP literal), that may resolve"
              + " to a loopback, link-local, private or other non-public address, e.g. an in-house mirror; repeatable"
              + " (env XENVBD_ALLOW_PRIVATE_HOSTS, comma-separated). Default: none, such addresses are refused.")
  List<String> allowPrivateHosts = new ArrayList<>();

  /**
   * The two lists as one policy; blank items (an empty environment twin) are none. Throws
   * IllegalArgumentException.
   */
  public UrlPolicy policy() {
    return new UrlPolicy(nonBlank(allowUrls), nonBlank(allowPrivateHosts));
  }

  private static List<String> nonBlank(List<String> items) {
    return items == null
        ? List.of()
        : items.stream().filter(i -> i != null && !i.isBlank()).map(String::strip).toList();
  }
}
