package io.xenvbd.client;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import com.sun.net.httpserver.HttpServer;
import io.xenvbd.api.Validation;
import io.xenvbd.protocol.*;
import java.net.InetSocketAddress;
import java.net.URI;
import java.nio.charset.StandardCharsets;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.CopyOnWriteArrayList;
import org.junit.jupiter.api.Test;

/**
 * Versions, the field table, and the unknown-field policy of the operator's end (responses
 * tolerant).
 */
class ProtocolTest {
  static final DiskSpec CLONE =
      new DiskSpec(
          null,
          "8Mi",
          DiskSpec.Filesystem.ext4,
          new DiskSpec.Populate(
              null,
              null,
              new DiskSpec.CloneFrom("base", "uid-base"),
              List.of("/tmp"),
              DiskSpec.Method.Auto),
          null,
          new DiskSpec.Xen("xvdb", DiskSpec.Access.ro, null),
          false,
          DiskSpec.ReclaimPolicy.Delete);

  @Test
  void everyVersionedFieldCameAfterVersionOneAndNoLaterThanThisBuild() {
    assertThat(Protocol.Field.TABLE)
        .isNotEmpty()
        .allSatisfy(f -> assertThat(f.since()).isBetween(2, Protocol.VERSION));
    assertThat(Protocol.Field.TABLE).extracting(Protocol.Field::name).doesNotHaveDuplicates();
    assertThat(Protocol.CURRENT.version()).isEqualTo(Protocol.VERSION);
    assertThat(Protocol.CURRENT.minSupported()).isEqualTo(Protocol.MIN_SUPPORTED);
  }

  @Test
  void aMoveIsNeverSentToAnAgentBeforeVersionSixAndRoundTripsWithItsTicketHiddenInLogs()
      throws Exception {
    DiskSpec move =
        new DiskSpec(
            null,
            "8Mi",
            DiskSpec.Filesystem.ext4,
            DiskSpec.Populate.move(new DiskSpec.Remote("node-a", "https://a:8443", "secret")),
            null,
            null,
            null,
            null);
    Protocol.Tailored old = Protocol.CURRENT.forPeer(move, 5);
    assertThat(old.spec()).isNull();
    assertThat(old.lacking().name()).isEqualTo("spec.populate.moveFrom");
    assertThat(old.lacking().since()).isEqualTo(6);
    assertThat(Protocol.CURRENT.forPeer(move, 6).spec()).isEqualTo(move);
    assertThat(Protocol.simulated(5, 1, Protocol.Field.TABLE).unknownIn(move))
        .map(Protocol.Field::name)
        .contains("spec.populate.moveFrom");
    String json = HttpAgentClient.JSON.writeValueAsString(move);
    assertThat(HttpAgentClient.JSON.readValue(json, DiskSpec.class)).isEqualTo(move);
    assertThat(move.toString()).doesNotContain("secret");
  }

  @Test
  void noHeaderIsTheUnversionedWireAndANonNumberIsRefused() {
    assertThat(Protocol.announced(null)).isEqualTo(1);
    assertThat(Protocol.announced(" ")).isEqualTo(1);
    assertThat(Protocol.announced(" 3 ")).isEqualTo(3);
    assertThatThrownBy(() -> Protocol.announced("three")).hasMessageContaining("not a number");
    assertThatThrownBy(() -> Protocol.simulated(2, 3, Protocol.Field.TABLE))
        .isInstanceOf(IllegalArgumentException.class);
  }

  @Test
  void aFieldTheOlderEndDoesNotKnowIsLeftOutWhenItMayBe() {
    DiskSpec toOld = Protocol.CURRENT.forPeer(CLONE, 2).spec();
    assertThat(toOld.populate().cloneFrom()).isEqualTo(new DiskSpec.CloneFrom("base", null));
    assertThat(toOld)
        .isEqualTo(
            new DiskSpec(
                CLONE.nodeName(),
                CLONE.size(),
                CLONE.filesystem(),
                new DiskSpec.Populate(
                    null,
                    null,
                    new DiskSpec.CloneFrom("base", null),
                    List.of("/tmp"),
                    DiskSpec.Method.Auto),
                CLONE.tailor(),
                CLONE.xen(),
                CLONE.preallocate(),
                CLONE.reclaimPolicy()));
    assertThat(Protocol.CURRENT.forPeer(CLONE, 3).spec()).isEqualTo(CLONE);
    assertThat(Protocol.CURRENT.forPeer(CLONE, 99).spec()).isEqualTo(CLONE);
    // the older end may be the operator: it sends only what it knows, however new the agent
    Protocol oldOperator = Protocol.simulated(2, 1, Protocol.Field.TABLE);
    assertThat(oldOperator.forPeer(CLONE, Protocol.VERSION).spec().populate().cloneFrom().uid())
        .isNull();
  }

  @Test
  void aRequiredFieldTheAgentDoesNotKnowMeansNothingIsSent() {
    List<Protocol.Field> table = new ArrayList<>(Protocol.Field.TABLE);
    Protocol.Field next =
        new Protocol.Field(
            "spec.preallocate",
            Protocol.VERSION + 1,
            s -> Boolean.TRUE.equals(s.preallocate()),
            null);
    table.add(next);
    Protocol ahead = Protocol.simulated(Protocol.VERSION + 1, 1, table);
    DiskSpec preallocated = new DiskSpec(null, "8Mi", null, null, null, null, true, null);
    Protocol.Tailored t = ahead.forPeer(preallocated, Protocol.VERSION);
    assertThat(t.spec()).isNull();
    assertThat(t.lacking()).isEqualTo(next);
    assertThat(ahead.forPeer(preallocated, Protocol.VERSION + 1).spec()).isEqualTo(preallocated);
    assertThat(
            ahead
                .forPeer(new DiskSpec(null, "8Mi", null, null, null, null, false, null), 1)
                .lacking())
        .isNull();
  }

  @Test
  void anAgentTreatsAFieldAfterItsVersionAsUnknown() {
    assertThat(Protocol.CURRENT.unknownIn(CLONE)).isEmpty();
    assertThat(Protocol.simulated(2, 1, Protocol.Field.TABLE).unknownIn(CLONE))
        .get()
        .extracting(Protocol.Field::name)
        .isEqualTo("spec.populate.cloneFrom.uid");
    assertThat(
            Protocol.simulated(2, 1, Protocol.Field.TABLE)
                .unknownIn(Protocol.CURRENT.forPeer(CLONE, 2).spec()))
        .isEmpty();
  }

  @Test
  void theBodyLimitHoldsTheLargestSpecTheCrdAdmits() {
    assertThat(PutDiskRequest.MAX_BODY_BYTES)
        .isEqualTo(Validation.MAX_FILES * Validation.MAX_FILE_CONTENT * 6 + (1 << 20));
  }

  @Test
  void theOperatorsClientIgnoresFieldsANewerAgentAddsAndAnnouncesItsVersion() throws Exception {
    List<String> headers = new CopyOnWriteArrayList<>();
    HttpServer server = HttpServer.create(new InetSocketAddress("127.0.0.1", 0), 0);
    server.createContext(
        "/",
        exchange -> {
          headers.add(exchange.getRequestHeaders().getFirst(Protocol.HEADER));
          String body =
              exchange.getRequestURI().getPath().equals("/v1/node")
                  ? "{\"nodeName\":\"n\",\"version\":\"9\",\"protocolVersion\":9,\"zones\":[\"a\"],"
                      + "\"loopDevices\":{\"max\":8,\"inUse\":1,\"flavour\":\"new\",\"devices\":[{\"name\":\"loop0\",\"backingFile\":\"/x\",\"sector\":1}]},"
                      + "\"storage\":{\"root\":\"/r\",\"capacityBytes\":10,\"tier\":\"fast\"},\"images\":[],\"orphans\":[]}"
                  : "{\"namespace\":\"ns\",\"name\":\"d\",\"uid\":\"u\",\"phase\":\"Failed\",\"path\":\"/r/ns/d.img\","
                      + "\"xenDisk\":\"format=raw, target=/r/ns/d.img\",\"checksum\":{\"sha256\":\"ab\"},"
                      + "\"error\":{\"code\":\"NoSpace\",\"message\":\"full\",\"hint\":\"free some\"}}";
          byte[] bytes = body.getBytes(StandardCharsets.UTF_8);
          exchange.getResponseHeaders().set("Content-Type", "application/json");
          exchange.sendResponseHeaders(200, bytes.length);
          exchange.getResponseBody().write(bytes);
          exchange.close();
        });
    server.start();
    try {
      URI endpoint = URI.create("http://127.0.0.1:" + server.getAddress().getPort());
      HttpAgentClient client =
          new HttpAgentClient(
              endpoint,
              () -> List.of("t"),
              HttpAgentClient.newHttpClient(null, Duration.ofSeconds(5)),
              Duration.ofSeconds(5),
              Protocol.simulated(7, 1, Protocol.Field.TABLE));
      NodeInfo node = client.node();
      assertThat(node.protocolVersion()).isEqualTo(9);
      assertThat(node.loopDevices().devices()).containsExactly(new NodeInfo.Device("loop0", "/x"));
      assertThat(node.storage().capacityBytes()).isEqualTo(10L);
      DiskState disk = client.getDisk("ns", "d").orElseThrow();
      assertThat(disk.phase()).isEqualTo(DiskState.Phase.Failed);
      assertThat(disk.error()).isEqualTo(new ErrorBody("NoSpace", "full"));
      assertThat(headers).containsOnly("7");
    } finally {
      server.stop(0);
    }
  }
}
