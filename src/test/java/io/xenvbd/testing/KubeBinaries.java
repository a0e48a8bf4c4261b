package io.xenvbd.testing;

import java.io.IOException;
import java.io.UncheckedIOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import java.util.Optional;
import java.util.regex.Matcher;
import java.util.regex.Pattern;

/**
 * Where the real kube-apiserver, etcd and kubectl are: the directory {@code tools/kube/build.sh}
 * fills. {@code -Dxenvbd.kubeBinDir} (set by test.sh) names it; otherwise it is the script's own
 * default, {@code ${XENVBD_CACHE:-~/.cache/xenvbd}/kube/k8s/<version>-linux-amd64}, the version
 * read from tools/kube/go.mod so that the release is written down in one place.
 */
public record KubeBinaries(String version, Path dir) {
  private static final Path GO_MOD = Path.of("tools/kube/go.mod");
  private static final Pattern REQUIRE =
      Pattern.compile("(?m)^\\s*(?:require\\s+)?k8s\\.io/kubernetes\\s+v(\\S+)");
  private static final List<String> NAMES = List.of("etcd", "kube-apiserver", "kubectl");

  /** The Kubernetes release tools/kube pins, e.g. {@code 1.34.4}. */
  public static String pinnedVersion() {
    try {
      Matcher m = REQUIRE.matcher(Files.readString(GO_MOD));
      if (!m.find())
        throw new IllegalStateException(GO_MOD + " names no k8s.io/kubernetes version");
      return m.group(1);
    } catch (IOException e) {
      throw new UncheckedIOException(
          "cannot read " + GO_MOD.toAbsolutePath() + ": " + e.getMessage(), e);
    }
  }

  public static KubeBinaries locate() {
    String version = pinnedVersion();
    String configured = System.getProperty("xenvbd.kubeBinDir", "");
    if (!configured.isBlank()) return new KubeBinaries(version, Path.of(configured));
    String cache =
        Optional.ofNullable(System.getenv("XENVBD_CACHE"))
            .filter(s -> !s.isBlank())
            .orElse(System.getProperty("user.home") + "/.cache/xenvbd");
    return new KubeBinaries(version, Path.of(cache, "kube", "k8s", version + "-linux-amd64"));
  }

  /** Why these binaries cannot be used, or empty when all three are there. */
  public Optional<String> missing() {
    List<String> absent = NAMES.stream().filter(n -> !Files.isExecutable(dir.resolve(n))).toList();
    if (absent.isEmpty()) return Optional.empty();
    return Optional.of(
        String.join(", ", absent)
            + " "
            + version
            + " not found in "
            + dir
            + ": run tools/kube/build.sh (or ./test.sh) to build them");
  }

  public Path etcd() {
    return dir.resolve("etcd");
  }

  public Path kubeApiServer() {
    return dir.resolve("kube-apiserver");
  }

  /** The kubectl of the same release. */
  public Path kubectl() {
    return dir.resolve("kubectl");
  }
}
