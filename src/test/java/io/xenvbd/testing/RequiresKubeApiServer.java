package io.xenvbd.testing;

import java.lang.annotation.ElementType;
import java.lang.annotation.Retention;
import java.lang.annotation.RetentionPolicy;
import java.lang.annotation.Target;
import org.junit.jupiter.api.extension.ExtendWith;

/**
 * Marks a test class that runs against a real kube-apiserver and etcd ({@link RealKubeApiServer}).
 * One is started per test JVM, on first use, and shared by every such class (each keeps to its own
 * namespaces); a {@link RealKubeApiServer} parameter of a {@code @BeforeAll}, {@code @BeforeEach}
 * or test method receives it. Without the binaries tools/kube/build.sh builds, the class is skipped
 * with that reason; with {@code -Dxenvbd.requireRoot=true} (CI) it fails instead, as {@link
 * RequiresRoot} does, so that CI can never pass by skipping.
 */
@Target(ElementType.TYPE)
@Retention(RetentionPolicy.RUNTIME)
@ExtendWith(KubeApiServerExtension.class)
public @interface RequiresKubeApiServer {}
