package io.xenvbd.local;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import com.sun.net.httpserver.HttpsConfigurator;
import com.sun.net.httpserver.HttpsServer;
import io.xenvbd.agent.AgentConfig;
import io.xenvbd.protocol.AgentUnreachableException;
import io.xenvbd.tls.Tls;
import java.net.InetSocketAddress;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.attribute.PosixFilePermissions;
import java.util.List;
import java.util.concurrent.CopyOnWriteArrayList;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * The one wiring of operator and agents on this machine, as local mode and the test rigs use it.
 */
class WiringTest {
  @TempDir Path tmp;

  @Test
  void theTokenIsKeptOwnerOnlyAcrossRunsWhileEachRunGetsAFreshCa() throws Exception {
    Wiring first = Wiring.in(tmp.resolve("state"));
    String firstCa = Files.readString(first.tls().caCert());
    Wiring second = Wiring.in(tmp.resolve("state"));

    assertThat(first.tokenFile()).isEqualTo(tmp.resolve("state/agent-token"));
    assertThat(PosixFilePermissions.toString(Files.getPosixFilePermissions(first.tokenFile())))
        .isEqualTo("rw-------");
    assertThat(Files.readString(first.tokenFile()).strip()).isEqualTo(first.token());
    assertThat(second.token()).isEqualTo(first.token());
    assertThat(first.tls().caCert()).isEqualTo(tmp.resolve("state/tls/ca.crt"));
    assertThat(Files.readString(second.tls().caCert())).isNotEqualTo(firstCa);
  }

  @Test
  void anAgentOnThisMachineServesHttpsOnLoopbackWithTheTokenAndCertificate() throws Exception {
    Wiring wiring = Wiring.in(tmp);
    AgentConfig config =
        wiring.agent("node-w", tmp.resolve("images"), List.of(tmp.resolve("src"))).build();

    assertThat(config.insecurePlainHttp()).isFalse();
    assertThat(config.tlsCert()).isEqualTo(wiring.tls().cert());
    assertThat(config.tlsKey()).isEqualTo(wiring.tls().key());
    assertThat(config.token()).isEqualTo(wiring.token());
    assertThat(config.listen()).isEqualTo(new InetSocketAddress("127.0.0.1", 0));
    assertThat(config.allowedSources()).containsExactly(tmp.resolve("src"));
    assertThat(config.workers()).isEqualTo(AgentConfig.DEFAULT_WORKERS);
  }

  @Test
  void theOperatorsClientsSendTheTokenToTheAgentsCertificateAndRefuseAnotherCa() throws Exception {
    Wiring wiring = Wiring.in(tmp.resolve("ours"));
    Wiring stranger = Wiring.in(tmp.resolve("theirs"));
    List<String> auth = new CopyOnWriteArrayList<>();
    HttpsServer server = HttpsServer.create(new InetSocketAddress("127.0.0.1", 0), 0);
    server.setHttpsConfigurator(
        new HttpsConfigurator(Tls.serverContext(wiring.tls().cert(), wiring.tls().key())));
    server.createContext(
        "/",
        exchange -> {
          auth.add(exchange.getRequestHeaders().getFirst("Authorization"));
          exchange.sendResponseHeaders(404, -1);
          exchange.close();
        });
    server.start();
    try {
      String endpoint = "https://127.0.0.1:" + server.getAddress().getPort();

      assertThat(wiring.agentClients().forNode("node-w", endpoint).getDisk("default", "d"))
          .isEmpty();
      assertThat(
              Wiring.agentClients(wiring.token(), wiring.tls().caCert())
                  .forNode("node-w", endpoint)
                  .getDisk("default", "d"))
          .isEmpty();
      assertThat(auth).containsExactly("Bearer " + wiring.token(), "Bearer " + wiring.token());

      // A server whose certificate another CA signed never gets the request, nor the token.
      assertThatThrownBy(
              () -> stranger.agentClients().forNode("node-w", endpoint).getDisk("default", "d"))
          .isInstanceOf(AgentUnreachableException.class);
      assertThat(auth).hasSize(2);
    } finally {
      server.stop(0);
    }
  }
}
