package io.xenvbd.agent;

import static org.assertj.core.api.Assertions.assertThat;
import static org.awaitility.Awaitility.await;

import io.xenvbd.protocol.DiskState;
import io.xenvbd.protocol.ErrorCodes;
import io.xenvbd.protocol.Protocol;
import io.xenvbd.testing.RequiresRoot;
import java.net.URI;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.nio.file.Path;
import java.time.Duration;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * The agent announces its protocol version and refuses an operator older than its minimum, over
 * real HTTPS.
 */
@RequiresRoot
class AgentProtocolVersionTest {
  @TempDir Path dir;

  @Test
  void theAgentAnnouncesItsVersionToTheOperatorsClient() throws Exception {
    try (AgentHarness h = AgentHarness.start(dir, null)) {
      assertThat(h.client.node().protocolVersion()).isEqualTo(Protocol.VERSION);
    }
  }

  @Test
  void anOperatorBelowTheAgentsMinimumIsRefusedWithOperatorTooOldAndNothingIsBuilt()
      throws Exception {
    try (AgentHarness h = AgentHarness.start(dir, null)) {
      HttpResponse<String> r = put(h, Integer.toString(Protocol.MIN_SUPPORTED - 1));
      assertThat(r.statusCode()).isEqualTo(426);
      assertThat(AgentHarness.json(r).get("code").asText()).isEqualTo(ErrorCodes.OPERATOR_TOO_OLD);
      assertThat(AgentHarness.json(r).get("message").asText()).contains("upgrade the operator");
      assertThat(h.call("GET", "/v1/disks/default/old", null).statusCode()).isEqualTo(404);
    }
  }

  @Test
  void aVersionThatIsNotANumberIsABadRequest() throws Exception {
    try (AgentHarness h = AgentHarness.start(dir, null)) {
      HttpResponse<String> r = put(h, "two");
      assertThat(r.statusCode()).isEqualTo(400);
      assertThat(AgentHarness.json(r).get("message").asText())
          .contains(Protocol.HEADER)
          .contains("not a number");
    }
  }

  @Test
  void aCloneIsMadeOnlyFromTheSourceImageThatTheNamedUidOwns() throws Exception {
    try (AgentHarness h = AgentHarness.start(dir, null)) {
      String none = "\"size\":\"8Mi\",\"filesystem\":\"none\"";
      assertThat(
              h.call(
                      "PUT",
                      "/v1/disks/default/base",
                      AgentHarness.putBody("uid-base", "{" + none + "}"))
                  .statusCode())
          .isEqualTo(202);
      h.awaitReady("default", "base", Duration.ofSeconds(30));

      // e.g. the image a deleted (retained) VirtualDisk "base" left, while the Ready "base" is
      // another one
      String stale =
          "{"
              + none
              + ",\"populate\":{\"cloneFrom\":{\"name\":\"base\",\"uid\":\"uid-recreated\"}}}";
      assertThat(
              h.call("PUT", "/v1/disks/default/copy", AgentHarness.putBody("uid-copy", stale))
                  .statusCode())
          .isEqualTo(202);
      DiskState failed =
          await()
              .atMost(Duration.ofSeconds(30))
              .until(
                  () -> h.client.getDisk("default", "copy").orElseThrow(),
                  s -> s.phase() == DiskState.Phase.Failed);
      assertThat(failed.error().code()).isEqualTo(ErrorCodes.NOT_FOUND);
      assertThat(failed.error().message())
          .contains("cloneFrom 'base'", "is not the one of the VirtualDisk base")
          .doesNotContain("uid-base");
      assertThat(h.filesUnderRoot()).containsExactly("default/base.img", "default/base.img.json");

      String right =
          "{" + none + ",\"populate\":{\"cloneFrom\":{\"name\":\"base\",\"uid\":\"uid-base\"}}}";
      assertThat(
              h.call("PUT", "/v1/disks/default/copy", AgentHarness.putBody("uid-copy", right))
                  .statusCode())
          .as("a different source uid is a new request, not the failed one repeated")
          .isEqualTo(202);
      assertThat(h.awaitReady("default", "copy", Duration.ofSeconds(30)).capacityBytes())
          .isEqualTo(8L << 20);
    }
  }

  private static HttpResponse<String> put(AgentHarness h, String version) throws Exception {
    HttpRequest request =
        HttpRequest.newBuilder(URI.create(h.agent.endpoint() + "/v1/disks/default/old"))
            .timeout(Duration.ofSeconds(30))
            .header("Authorization", "Bearer " + h.token)
            .header("Content-Type", "application/json")
            .header(Protocol.HEADER, version)
            .PUT(
                HttpRequest.BodyPublishers.ofString(
                    AgentHarness.putBody("uid-old", "{\"size\":\"16Mi\"}")))
            .build();
    return h.http.send(request, HttpResponse.BodyHandlers.ofString());
  }
}
