package io.xenvbd.kube;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import com.fasterxml.jackson.databind.JsonNode;
import io.fabric8.mockwebserver.crud.AttributeSet;
import java.util.ArrayList;
import java.util.List;
import org.junit.jupiter.api.Test;

/** The watch fan-out: replay after a resourceVersion, bounded history, 410 Gone when too old. */
class WatchHubTest {
  static final class Recorder implements WatchHub.Watcher {
    final List<Long> seen = new ArrayList<>();

    @Override
    public boolean matches(AttributeSet attributes, JsonNode object) {
      return true;
    }

    @Override
    public void send(WatchHub.Event e) {
      seen.add(e.resourceVersion());
    }
  }

  static void publish(WatchHub hub, long rv) {
    hub.publish(
        "MODIFIED",
        Json.parse("{\"metadata\":{\"name\":\"a\",\"resourceVersion\":\"" + rv + "\"}}"),
        new AttributeSet());
  }

  @Test
  void aWatchReplaysOnlyWhatCameAfterItsResourceVersionThenFollows() throws Exception {
    WatchHub hub = new WatchHub();
    for (long rv = 1; rv <= 5; rv++) {
      publish(hub, rv);
    }
    Recorder r = new Recorder();
    assertThat(hub.register(r, 3))
        .extracting(WatchHub.Event::resourceVersion)
        .containsExactly(4L, 5L);
    publish(hub, 6);
    assertThat(r.seen).containsExactly(6L);
    hub.remove(r);
    publish(hub, 7);
    assertThat(r.seen).containsExactly(6L);
    assertThat(hub.watcherCount()).isZero();
  }

  @Test
  void historyIsBoundedAndATooOldResourceVersionIsGone() throws Exception {
    WatchHub hub = new WatchHub();
    for (long rv = 1; rv <= 2500; rv++) {
      publish(hub, rv);
    }
    assertThatThrownBy(() -> hub.register(new Recorder(), 10))
        .isInstanceOf(WatchHub.Gone.class)
        .hasMessageContaining("too old resource version");
    assertThat(hub.register(new Recorder(), 2400)).hasSize(100);
  }
}
