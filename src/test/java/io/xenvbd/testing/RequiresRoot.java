package io.xenvbd.testing;

import java.lang.annotation.ElementType;
import java.lang.annotation.Retention;
import java.lang.annotation.RetentionPolicy;
import java.lang.annotation.Target;
import org.junit.jupiter.api.extension.ExtendWith;

/**
 * Marks a test class or method that needs root (loop devices, mounts, chown). Run without root it is
 * skipped with the reason; with {@code -Dxenvbd.requireRoot=true} (set by .ci/run) it fails instead,
 * so that CI, which is root, can never pass by skipping.
 */
@Target({ElementType.TYPE, ElementType.METHOD})
@Retention(RetentionPolicy.RUNTIME)
@ExtendWith(RootCondition.class)
public @interface RequiresRoot {}
