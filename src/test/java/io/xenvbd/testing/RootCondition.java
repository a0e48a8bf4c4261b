package io.xenvbd.testing;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import org.junit.jupiter.api.extension.ConditionEvaluationResult;
import org.junit.jupiter.api.extension.ExecutionCondition;
import org.junit.jupiter.api.extension.ExtensionContext;

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

  @Override
  public ConditionEvaluationResult evaluateExecutionCondition(ExtensionContext context) {
    if (isRoot()) return ConditionEvaluationResult.enabled("running as root");
    if (rootRequired()) {
      throw new IllegalStateException("this test needs root (loop devices, mounts) and -Dxenvbd.requireRoot=true"
          + " forbids skipping it: run the suite as root");
    }
    return ConditionEvaluationResult.disabled("needs root for loop devices and mounts; run as root to include it");
  }
}
