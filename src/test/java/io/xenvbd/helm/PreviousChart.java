package io.xenvbd.helm;

import io.xenvbd.testing.Exec;
import java.io.IOException;
import java.io.UncheckedIOException;
import java.nio.file.Files;
import java.nio.file.Path;

/**
 * The chart one version back, taken from git history at {@link #REVISION} into a directory of the
 * test's own: exactly what was committed then, CRDs included, with no copy in the tree to drift.
 * Move {@link #REVISION} to the last release when one is cut.
 *
 * <p>12e871d is the first commit whose CRDs a real kube-apiserver accepts (its CEL writes {@code
 * sign(quantity(x))}) and the last before the API grew {@code spec.populate.adopt} and Dom0Node
 * {@code status.released} (protocol 4) and cross-node clones (protocol 5): an upgrade from it
 * changes both CRDs, the agent DaemonSet and the RBAC.
 */
final class PreviousChart {
  static final String REVISION = "12e871d630e208033a37a3e58337c2c7bebd08d8";

  private PreviousChart() {}

  /** {@code git archive REVISION helm/xenvbd} unpacked under {@code dir}; returns the chart. */
  static Path extract(Path dir) {
    Exec.Result has = Exec.run("git", "cat-file", "-e", REVISION + "^{commit}");
    if (has.exit() != 0) {
      throw new AssertionError(
          "the upgrade test installs the chart of commit "
              + REVISION
              + " from git history, which this checkout lacks: run it in a full clone"
              + " (git fetch --unshallow)");
    }
    try {
      Path tar = dir.resolve("previous-chart.tar");
      Exec.run("git", "archive", "--format=tar", "--output=" + tar, REVISION, "helm/xenvbd").ok();
      Path out = Files.createDirectories(dir.resolve("previous"));
      Exec.run("tar", "-xf", tar.toString(), "-C", out.toString()).ok();
      return out.resolve("helm/xenvbd");
    } catch (IOException e) {
      throw new UncheckedIOException(e);
    }
  }
}
