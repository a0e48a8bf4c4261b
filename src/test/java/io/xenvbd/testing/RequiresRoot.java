package io.xenvbd.testing;

import java.lang.annotation.ElementType;
import java.lang.annotation.Retention;
import java.lang.annotation.RetentionPolicy;
import java.lang.annotation.Target;
import org.junit.jupiter.api.extension.ExtendWith;

/**
 * Marks a test class or method that needs root (loop devices, mounts, chown), and optionally tools
 * beyond the disk tools. Run without root, or without one of {@link #tools}, it is skipped with the
 * reason; with {@code -Dxenvbd.requireRoot=true} (set by .ci/run) it fails instead, so that CI,
 * which is root and installs the tools, can never pass by skipping.
 */
@Target({ElementType.TYPE, ElementType.METHOD})
@Retention(RetentionPolicy.RUNTIME)
@ExtendWith(RootCondition.class)
public @interface RequiresRoot {
  /**
   * Commands the test runs besides the disk tools, each as {@code command:debian-package}
   * (.ci/run's form).
   */
  String[] tools() default {};
}
