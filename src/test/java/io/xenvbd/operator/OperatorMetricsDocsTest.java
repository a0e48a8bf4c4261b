package io.xenvbd.operator;

import static org.assertj.core.api.Assertions.assertThat;

import io.javaoperatorsdk.operator.processing.event.Event;
import io.javaoperatorsdk.operator.processing.event.ResourceID;
import io.xenvbd.api.VirtualDisk;
import io.xenvbd.docs.Markdown;
import java.util.Map;
import java.util.Set;
import java.util.regex.Pattern;
import org.junit.jupiter.api.Test;

/** The operator's metrics as docs/operator.md lists them, held to what /metrics exports. */
class OperatorMetricsDocsTest {
  @Test
  void everyMetricTheDocsNameIsExportedAndEveryExportedOneIsDocumented() {
    OperatorMetrics m = new OperatorMetrics();
    // one of everything, so that every counter has a series to show
    m.receivedEvent(new Event(new ResourceID("d", "ns")), Map.of());
    m.reconcileCustomResource(new VirtualDisk(), null, Map.of());
    m.finishedReconciliation(new VirtualDisk(), Map.of());
    m.cleanupDoneFor(new ResourceID("d", "ns"), Map.of());
    m.outcome("Done");
    m.agentCall("get", "ok");
    m.event("Normal", "Provisioned");
    Set<String> exported =
        Markdown.all(m.render(), Pattern.compile("# TYPE (xenvbd_operator_\\w+)"));
    Set<String> documented =
        Markdown.all(
            Markdown.read("docs/operator.md") + Markdown.read("README.md"),
            Pattern.compile("(xenvbd_operator_\\w+)"));
    assertThat(exported).hasSizeGreaterThan(5);
    assertThat(documented).as("named in the docs").isSubsetOf(exported);
    assertThat(exported).as("exported by the operator").isSubsetOf(documented);
  }
}
