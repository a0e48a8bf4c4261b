package io.xenvbd.local;

import io.xenvbd.disk.UrlPolicy;
import java.nio.file.Path;
import java.util.List;
import java.util.Locale;
import java.util.Objects;

/**
 * Local mode's settings, read once.
 *
 * @param dir state directory (owner-only): kubeconfig, images/, tls/, api-tls/, api-token,
 *     agent-token, xenvbd.log
 * @param allowedSources directories that spec.populate.hostPaths may copy from
 * @param apiPort port of the embedded Kubernetes API on 127.0.0.1 (0: any free port)
 * @param nodeName the Dom0Node this machine's agent registers as
 * @param urls which http(s) archive URLs the agent may fetch (null: none)
 * @param importDir the directory whose image files may be adopted (null: none)
 */
public record LocalConfig(
    Path dir,
    List<Path> allowedSources,
    int apiPort,
    String nodeName,
    UrlPolicy urls,
    Path importDir) {
  public LocalConfig {
    Objects.requireNonNull(dir, "dir");
    dir = dir.toAbsolutePath().normalize();
    allowedSources =
        allowedSources == null
            ? List.of()
            : allowedSources.stream().map(p -> p.toAbsolutePath().normalize()).toList();
    if (apiPort < 0 || apiPort > 65535)
      throw new IllegalArgumentException("--port must be 0..65535, not " + apiPort);
    if (urls == null) urls = UrlPolicy.none();
    if (importDir != null) {
      importDir = importDir.toAbsolutePath().normalize();
      if (importDir.startsWith(dir) || dir.startsWith(importDir)) {
        throw new IllegalArgumentException(
            "--import-dir "
                + importDir
                + (importDir.startsWith(dir) ? " lies in" : " holds")
                + " the state directory --dir "
                + dir
                + ": give a directory beside it on the same filesystem");
      }
    }
    for (Path a : allowedSources) {
      if (dir.startsWith(a) || a.startsWith(dir)) {
        throw new IllegalArgumentException(
            "--allow-source "
                + a
                + (a.startsWith(dir) ? " lies in" : " holds")
                + " the state directory --dir "
                + dir
                + " (images, token, keys): allow a directory outside it");
      }
    }
  }

  /** No archive URL allowed. */
  public LocalConfig(Path dir, List<Path> allowedSources, int apiPort, String nodeName) {
    this(dir, allowedSources, apiPort, nodeName, UrlPolicy.none(), null);
  }

  /** No import directory. */
  public LocalConfig(
      Path dir, List<Path> allowedSources, int apiPort, String nodeName, UrlPolicy urls) {
    this(dir, allowedSources, apiPort, nodeName, urls, null);
  }

  public Path images() {
    return dir.resolve("images");
  }

  public Path kubeconfig() {
    return dir.resolve("kubeconfig");
  }

  public Path log() {
    return dir.resolve("xenvbd.log");
  }

  /** A node name derived from this host's name, made a valid DNS-1123 subdomain. */
  public static String defaultNodeName(String hostname) {
    String name =
        hostname == null
            ? ""
            : hostname
                .toLowerCase(Locale.ROOT)
                .replaceAll("[^a-z0-9.-]", "-")
                .replaceAll("^[-.]+|[-.]+$", "");
    return name.isEmpty() ? "localhost" : name;
  }
}
