package io.xenvbd.helm;
import java.util.Map;
import org.junit.jupiter.api.Test;
class HelmSmokeTest {
  @Test void smoke() {
    System.out.println(new com.marcnuri.helm.Helm(Chart.DIR).lint().strict().call().getMessages());
    String t = Chart.template(Map.of());
    System.out.println(t);
    Chart.parse(t).forEach(o -> System.out.println(o.getClass().getSimpleName() + " " + o.getKind() + " " + o.getMetadata().getName()));
  }
}
