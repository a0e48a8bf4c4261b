package io.xenvbd.testing;

import java.util.Optional;
import org.junit.jupiter.api.extension.ConditionEvaluationResult;
import org.junit.jupiter.api.extension.ExecutionCondition;
import org.junit.jupiter.api.extension.ExtensionContext;
import org.junit.jupiter.api.extension.ParameterContext;
import org.junit.jupiter.api.extension.ParameterResolver;

/** See {@link RequiresKubeApiServer}. */
final class KubeApiServerExtension implements ExecutionCondition, ParameterResolver {
  private static final ExtensionContext.Namespace NS =
      ExtensionContext.Namespace.create(KubeApiServerExtension.class);

  /** Closed by JUnit when the whole run ends, after the last class that used it. */
  private record Shared(RealKubeApiServer server)
      implements ExtensionContext.Store.CloseableResource {
    @Override
    public void close() {
      server.close();
    }
  }

  @Override
  public ConditionEvaluationResult evaluateExecutionCondition(ExtensionContext context) {
    Optional<String> missing = KubeBinaries.locate().missing();
    if (missing.isEmpty())
      return ConditionEvaluationResult.enabled("kube-apiserver binaries found");
    if (RootCondition.rootRequired()) {
      throw new IllegalStateException(
          "this test needs a real kube-apiserver and -Dxenvbd.requireRoot=true"
              + " forbids skipping it: "
              + missing.get());
    }
    return ConditionEvaluationResult.disabled("needs a real kube-apiserver: " + missing.get());
  }

  @Override
  public boolean supportsParameter(ParameterContext parameter, ExtensionContext context) {
    return parameter.getParameter().getType() == RealKubeApiServer.class;
  }

  @Override
  public Object resolveParameter(ParameterContext parameter, ExtensionContext context) {
    return context
        .getRoot()
        .getStore(NS)
        .getOrComputeIfAbsent(
            Shared.class,
            k -> new Shared(RealKubeApiServer.start(KubeBinaries.locate())),
            Shared.class)
        .server();
  }
}
