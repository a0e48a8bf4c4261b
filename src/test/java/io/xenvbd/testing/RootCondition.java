package io.xenvbd.testing;

import java.io.File;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import org.junit.jupiter.api.extension.ConditionEvaluationResult;
import org.junit.jupiter.api.extension.ExecutionCondition;
import org.junit.jupiter.api.extension.ExtensionContext;
import org.junit.platform.commons.support.AnnotationSupport;
import org.opentest4j.TestAbortedException;

/** See {@link RequiresRoot}. */
public final class RootCondition implements ExecutionCondition {

  public static boolean isRoot() {
    try {
      return "0".equals(String.valueOf(Files.getAttribute(Path.of("/proc/self"), "unix:uid")));
    } catch (IOException | UnsupportedOperationException e) {
      return false;
    }
  }

  public static boolean rootRequired() {
    return Boolean.getBoolean("xenvbd.requireRoot");
  }

  /**
   * What a test throws when this machine lacks something it needs that no annotation can check up
   * front (a download, a static binary): a skip with the reason, or under -Dxenvbd.requireRoot=true
   * a failure with it.
   */
  public static RuntimeException missing(String reason) {
    if (rootRequired())
      return new IllegalStateException(reason + " (-Dxenvbd.requireRoot=true forbids skipping)");
    return new TestAbortedException(reason);
  }

  @Override
  public ConditionEvaluationResult evaluateExecutionCondition(ExtensionContext context) {
    if (!isRoot()) {
      if (rootRequired()) {
        throw new IllegalStateException(
            "this test needs root (loop devices, mounts) and -Dxenvbd.requireRoot=true"
                + " forbids skipping it: run the suite as root");
      }
      return ConditionEvaluationResult.disabled(
          "needs root for loop devices and mounts; run as root to include it");
    }
    List<String> missing = new ArrayList<>();
    AnnotationSupport.findAnnotation(context.getElement(), RequiresRoot.class)
        .ifPresent(
            a -> {
              for (String tool : a.tools()) {
                String command =
                    tool.substring(0, tool.indexOf(':') < 0 ? tool.length() : tool.indexOf(':'));
                if (!onPath(command))
                  missing.add(
                      command + " (Debian package " + tool.substring(tool.indexOf(':') + 1) + ")");
              }
            });
    if (missing.isEmpty()) return ConditionEvaluationResult.enabled("running as root");
    String reason =
        "needs " + String.join(", ", missing) + ": install it (.ci/run does) to include this test";
    if (rootRequired())
      throw new IllegalStateException(reason + "; -Dxenvbd.requireRoot=true forbids skipping it");
    return ConditionEvaluationResult.disabled(reason);
  }

  private static boolean onPath(String command) {
    for (String dir :
        System.getenv()
            .getOrDefault("PATH", "/usr/sbin:/usr/bin:/sbin:/bin")
            .split(File.pathSeparator)) {
      if (!dir.isEmpty() && Files.isExecutable(Path.of(dir, command))) return true;
    }
    return false;
  }
}
