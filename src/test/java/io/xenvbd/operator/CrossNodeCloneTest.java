package io.xenvbd.operator;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;
import static org.awaitility.Awaitility.await;

import com.sun.net.httpserver.HttpsConfigurator;
import com.sun.net.httpserver.HttpsServer;
import io.xenvbd.api.Conditions;
import io.xenvbd.api.Dom0Node;
import io.xenvbd.api.Populate;
import io.xenvbd.api.Reasons;
import io.xenvbd.api.Tailor;
import io.xenvbd.api.VirtualDisk;
import io.xenvbd.api.VirtualDiskSpec;
import io.xenvbd.ca.CertificateAuthority;
import io.xenvbd.client.AgentTrust;
import io.xenvbd.client.TransferClient;
import io.xenvbd.disk.DiskException;
import io.xenvbd.disk.ErrorCode;
import io.xenvbd.disk.TransferReceiver;
import io.xenvbd.protocol.AgentClient;
import io.xenvbd.protocol.AgentException;
import io.xenvbd.protocol.DiskSpec;
import io.xenvbd.protocol.DiskState;
import io.xenvbd.protocol.ErrorCodes;
import io.xenvbd.protocol.Protocol;
import io.xenvbd.protocol.PutDiskRequest;
import io.xenvbd.protocol.TransferTicket;
import io.xenvbd.testing.Exec;
import io.xenvbd.testing.RequiresRoot;
import io.xenvbd.tls.Tls;
import java.io.FilterInputStream;
import java.io.IOException;
import java.io.InputStream;
import java.io.OutputStream;
import java.net.InetSocketAddress;
import java.net.URI;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.nio.ByteBuffer;
import java.nio.channels.FileChannel;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardOpenOption;
import java.security.MessageDigest;
import java.time.Duration;
import java.util.HexFormat;
import java.util.List;
import java.util.Random;
import java.util.UUID;
import java.util.concurrent.CopyOnWriteArrayList;
import java.util.concurrent.atomic.AtomicBoolean;
import java.util.stream.Stream;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * Clones whose source is on another node, with two real agents over real HTTPS (each with its own
 * images root, certificate and token) and the operator against the mock API: the image is streamed
 * from node-a's agent to node-b's with a single-use ticket, holes kept, checksum checked.
 */
@RequiresRoot
class CrossNodeCloneTest {
  private static final String NS = "ns1";
  private static final long MI = 1L << 20;
  static MockApi api;
  OperatorHarness h;
  RealNodes nodes;
  @TempDir Path dir;

  @BeforeAll
  static void startApi() {
    api = MockApi.start();
  }

  @AfterAll
  static void stopApi() {
    api.close();
  }

  @BeforeEach
  void start() throws IOException {
    h = new OperatorHarness(api);
    nodes = new RealNodes(dir, api.client);
    for (String n : List.of("node-a", "node-b")) nodes.start(n);
    await()
        .atMost(Duration.ofSeconds(10))
        .until(
            () ->
                api.client.resources(Dom0Node.class).list().getItems().stream()
                        .filter(n -> n.getStatus() != null && n.getStatus().storage() != null)
                        .count()
                    == 2);
    Path tree = Files.createDirectories(nodes.sources().resolve("tree"));
    byte[] big = new byte[32 * (int) MI];
    new Random(42).nextBytes(big);
    Files.write(tree.resolve("big"), big);
    Files.writeString(tree.resolve("motd"), "hello\n");
    h.start(nodes.clients());
  }

  @AfterEach
  void stop() {
    h.stopOperator();
    nodes.close();
    h.close();
  }

  @Test
  void aCloneOfADiskOnNodeAPlacedOnNodeBIsReadyWithTheSameContentHolesKeptAndItsOwnHostname()
      throws Exception {
    VirtualDisk base = ready(h.create(disk("base", "node-a", null, "base")));
    VirtualDisk clone =
        ready(h.create(disk("web1", "node-b", new Populate.CloneFrom("base"), "web1")));

    assertThat(clone.getStatus().nodeName()).isEqualTo("node-b");
    Path source = nodes.root("node-a").resolve(NS + "/base.img");
    Path copy = nodes.root("node-b").resolve(NS + "/web1.img");
    assertThat(nodes.images("node-b")).containsExactly(NS + "/web1.img");
    assertThat(Files.size(copy)).isEqualTo(Files.size(source));
    assertThat(sha256(fileInImage(copy, "/data/big")))
        .isEqualTo(sha256(fileInImage(source, "/data/big")));
    assertThat(fileInImage(copy, "/etc/hostname")).isEqualTo("web1\n".getBytes());
    assertThat(fileInImage(source, "/etc/hostname")).isEqualTo("base\n".getBytes());
    // holes stayed holes: the clone occupies about what its source does (tailoring and a new UUID
    // add a little)
    long sourceAllocated = base.getStatus().allocatedBytes();
    assertThat(clone.getStatus().allocatedBytes())
        .isBetween(sourceAllocated * 9 / 10, sourceAllocated + 16 * MI);
    assertThat(clone.getStatus().allocatedBytes()).isLessThan(Files.size(copy) / 2);
    assertThat(clone.getStatus().filesystemUUID()).isNotEqualTo(base.getStatus().filesystemUUID());
    assertThat(leftovers("node-b")).isEmpty();
  }

  @Test
  void theStreamIsTheSourceByteForByteWithItsHolesAndReportsItsProgress() throws Exception {
    VirtualDisk base = ready(h.create(disk("base", "node-a", null, "base")));
    Path source = nodes.root("node-a").resolve(NS + "/base.img");
    TransferTicket t =
        agent("node-a")
            .transferTicket(new TransferTicket.Request(NS, "base", base.getMetadata().getUid()));
    TransferClient fetch =
        TransferClient.to(trust(), "node-a", endpoint("node-a"), Duration.ofSeconds(10));
    Path target = dir.resolve("received.img");
    List<long[]> progress = new CopyOnWriteArrayList<>();
    TransferReceiver.Received r =
        TransferReceiver.receive(
            fetch::open,
            t.ticket(),
            target,
            1L << 30,
            "ext4",
            (stage, done, total, percent) -> progress.add(new long[] {done, total}));
    assertThat(Files.size(target)).isEqualTo(Files.size(source)).isEqualTo(r.sizeBytes());
    assertThat(Exec.ok("sha256sum", target.toString()).split(" ")[0])
        .isEqualTo(Exec.ok("sha256sum", source.toString()).split(" ")[0]);
    long allocated = Long.parseLong(Exec.ok("stat", "-c", "%b", target.toString()).strip()) * 512;
    long sourceAllocated =
        Long.parseLong(Exec.ok("stat", "-c", "%b", source.toString()).strip()) * 512;
    assertThat(allocated).isBetween(sourceAllocated - MI, sourceAllocated + MI);
    assertThat(progress).isNotEmpty();
    assertThat(progress.get(progress.size() - 1)).containsExactly(r.dataBytes(), r.dataBytes());
    assertThat(progress).extracting(p -> p[0]).isSorted();
  }

  @Test
  void aTamperedStreamFailsWithNothingPublishedAndNoTemporaryFileLeft() throws Exception {
    VirtualDisk base = ready(h.create(disk("base", "node-a", null, "base")));
    AgentClient a = agent("node-a");
    TransferTicket ticket =
        a.transferTicket(new TransferTicket.Request(NS, "base", base.getMetadata().getUid()));
    // a server that holds node-a's certificate (as an attacker on node-a's address would need) and
    // flips one data byte
    try (TamperingProxy proxy =
        new TamperingProxy(nodes.agents.get("node-a").endpoint().toString())) {
      AgentClient b = agent("node-b");
      b.putDisk(
          NS,
          "evil",
          new PutDiskRequest("uid-evil", wireClone("node-a", proxy.endpoint(), ticket.ticket())));
      DiskState failed =
          await()
              .atMost(Duration.ofSeconds(120))
              .until(
                  () -> b.getDisk(NS, "evil").orElseThrow(),
                  s -> s.phase() == DiskState.Phase.Failed);
      assertThat(failed.error().code()).isEqualTo(ErrorCodes.TRANSFER_FAILED);
      assertThat(failed.error().message()).contains("checksum");
      assertThat(proxy.flipped.get()).isTrue();
    }
    assertThat(nodes.images("node-b")).isEmpty();
    assertThat(leftovers("node-b")).isEmpty();
  }

  /**
   * A peer holding node-a's certificate (node-a's agent taken over, or an attacker with its key)
   * answers the window with a header and one record, then sends nothing and keeps the connection
   * open. The request's timeout covers only the headers: without an idle limit the target's worker
   * waits for the build's deadline (2 h). The clone must fail, with nothing left behind.
   */
  @Test
  void aPeerThatStallsMidWindowFailsTheCloneInsteadOfHoldingAWorker() throws Exception {
    CertificateAuthority.Issued cert =
        nodes.ca.issue(dir.resolve("stall-" + UUID.randomUUID()), List.of("node-a", "127.0.0.1"));
    // a raw TLS socket, so that nothing of a server library closes the stalled response for it
    javax.net.ssl.SSLServerSocket listener =
        (javax.net.ssl.SSLServerSocket)
            Tls.serverContext(cert.cert(), cert.key())
                .getServerSocketFactory()
                .createServerSocket(0, 8, java.net.InetAddress.getLoopbackAddress());
    java.util.concurrent.CountDownLatch release = new java.util.concurrent.CountDownLatch(1);
    AtomicBoolean served = new AtomicBoolean();
    Thread peer =
        new Thread(
            () -> {
              try (java.net.Socket s = listener.accept()) {
                java.io.BufferedReader request =
                    new java.io.BufferedReader(
                        new java.io.InputStreamReader(
                            s.getInputStream(), java.nio.charset.StandardCharsets.US_ASCII));
                for (String l = request.readLine(); l != null && !l.isEmpty(); )
                  l = request.readLine();
                java.io.DataOutputStream d = new java.io.DataOutputStream(s.getOutputStream());

                java.io.ByteArrayOutputStream body = new java.io.ByteArrayOutputStream();
                java.io.DataOutputStream r = new java.io.DataOutputStream(body);
                r.writeByte('W'); // a window promising a second record that never comes
                r.writeLong(18 + 4 + 2 * (13 + 4096) + 512);
                r.writeByte('H');
                r.writeLong(64 * MI);
                r.writeLong(2 * MI);
                r.writeByte(4);
                r.writeBytes("ext4");
                r.writeByte('D');
                r.writeLong(0);
                r.writeInt(4096);
                r.write(new byte[4096]);
                d.writeBytes(
                    "HTTP/1.1 200 OK\r\nContent-Type: application/octet-stream\r\n"
                        + "Content-Length: "
                        + (9 + 18 + 4 + 2 * (13 + 4096) + 512)
                        + "\r\n\r\n");
                d.write(body.toByteArray());
                d.flush();
                served.set(true);
                release.await(); // then nothing, with the connection open
              } catch (IOException | InterruptedException closed) {
                // the test is over
              }
            },
            "stalling-peer");
    peer.setDaemon(true);
    peer.start();
    try {
      AgentClient b = agent("node-b");
      b.putDisk(
          NS,
          "stalled",
          new PutDiskRequest(
              "uid-stalled",
              wireClone("node-a", "https://127.0.0.1:" + listener.getLocalPort(), "A".repeat(43))));
      DiskState failed =
          await()
              .atMost(Duration.ofSeconds(150))
              .pollInterval(Duration.ofSeconds(1))
              .until(
                  () -> b.getDisk(NS, "stalled").orElseThrow(),
                  s -> s.phase() == DiskState.Phase.Failed);
      assertThat(served.get()).isTrue();
      assertThat(failed.error().code())
          .as(failed.error().message())
          .isEqualTo(ErrorCodes.TRANSFER_FAILED);
    } finally {
      release.countDown();
      listener.close();
      peer.join(10_000);
    }
    assertThat(nodes.images("node-b")).isEmpty();
    assertThat(leftovers("node-b")).isEmpty();
  }

  @Test
  void aUsedOrUnknownTicketAndAWrongTokenAreRefused() throws Exception {
    VirtualDisk base = ready(h.create(disk("base", "node-a", null, "base")));
    String uid = base.getMetadata().getUid();
    ready(h.create(disk("web1", "node-b", new Populate.CloneFrom("base"), "web1")));
    AgentClient a = agent("node-a");
    TransferClient fetch =
        TransferClient.to(trust(), "node-a", endpoint("node-a"), Duration.ofSeconds(10));

    TransferTicket ticket = a.transferTicket(new TransferTicket.Request(NS, "base", uid));
    fetch.open(ticket.ticket()).close(); // the first window consumes the ticket
    assertThatThrownBy(() -> fetch.open(ticket.ticket()))
        .isInstanceOfSatisfying(
            AgentException.class, e -> assertThat(e.code()).isEqualTo(ErrorCodes.UNAUTHORIZED));
    assertThatThrownBy(() -> fetch.open("A".repeat(43)))
        .isInstanceOfSatisfying(
            AgentException.class, e -> assertThat(e.code()).isEqualTo(ErrorCodes.UNAUTHORIZED));
    // a ticket is only for an image of the owner it names
    assertThatThrownBy(
            () -> a.transferTicket(new TransferTicket.Request(NS, "base", "someone-else")))
        .isInstanceOfSatisfying(
            AgentException.class, e -> assertThat(e.code()).isEqualTo(ErrorCodes.NOT_FOUND));

    HttpClient http = HttpClient.newBuilder().sslContext(nodes.clientSsl).build();
    for (String auth :
        List.of("Bearer wrong-token", "Bearer " + nodes.token("node-b"), "Basic Zm9vOmJhcg==")) {
      HttpResponse<String> r =
          http.send(
              HttpRequest.newBuilder(URI.create(endpoint("node-a") + "/v1/transfer"))
                  .header("Authorization", auth)
                  .GET()
                  .build(),
              HttpResponse.BodyHandlers.ofString());
      assertThat(r.statusCode()).as(auth).isEqualTo(401);
      HttpResponse<String> post =
          http.send(
              HttpRequest.newBuilder(URI.create(endpoint("node-a") + "/v1/transfers"))
                  .header("Authorization", auth)
                  .POST(
                      HttpRequest.BodyPublishers.ofString(
                          "{\"namespace\":\"ns1\",\"name\":\"base\",\"uid\":\"" + uid + "\"}"))
                  .build(),
              HttpResponse.BodyHandlers.ofString());
      assertThat(post.statusCode()).as(auth).isEqualTo(401);
    }
    // node-a's token opens node-a's API, never the ticket route
    HttpResponse<String> withToken =
        http.send(
            HttpRequest.newBuilder(URI.create(endpoint("node-a") + "/v1/transfer"))
                .header("Authorization", "Bearer " + nodes.token("node-a"))
                .GET()
                .build(),
            HttpResponse.BodyHandlers.ofString());
    assertThat(withToken.statusCode()).isEqualTo(404);
  }

  @Test
  void aSourceInUseIsRefusedAndOneWrittenDuringTheCopyIsAbandoned() throws Exception {
    VirtualDisk base = ready(h.create(disk("base", "node-a", null, "base")));
    String uid = base.getMetadata().getUid();
    Path source = nodes.root("node-a").resolve(NS + "/base.img");
    AgentClient a = agent("node-a");
    TransferClient fetch =
        TransferClient.to(trust(), "node-a", endpoint("node-a"), Duration.ofSeconds(10));

    try (FileChannel held = FileChannel.open(source, StandardOpenOption.READ)) {
      TransferTicket t = a.transferTicket(new TransferTicket.Request(NS, "base", uid));
      assertThatThrownBy(() -> fetch.open(t.ticket()))
          .isInstanceOfSatisfying(
              AgentException.class, e -> assertThat(e.code()).isEqualTo(ErrorCodes.IMAGE_IN_USE));
    }

    TransferTicket t = a.transferTicket(new TransferTicket.Request(NS, "base", uid));
    AtomicBoolean wrote = new AtomicBoolean();
    Path target = dir.resolve("received.img");
    // after the first MiB arrives, a write lands in the source (past its filesystem's last block,
    // as a guest's would)
    TransferReceiver.Windows writing =
        credential ->
            new FilterInputStream(fetch.open(credential)) {
              long read;

              @Override
              public int read(byte[] b, int off, int len) throws IOException {
                int n = super.read(b, off, len);
                read += Math.max(0, n);
                if (read > MI && wrote.compareAndSet(false, true)) {
                  try (FileChannel ch = FileChannel.open(source, StandardOpenOption.WRITE)) {
                    ch.write(ByteBuffer.wrap(new byte[] {1}), Files.size(source) - 1);
                  }
                }
                return n;
              }
            };
    assertThatThrownBy(
            () ->
                TransferReceiver.receive(
                    writing, t.ticket(), target, 1L << 30, "ext4", (s, d, tot, p) -> {}))
        .isInstanceOfSatisfying(
            DiskException.class,
            e -> {
              assertThat(e.code()).isEqualTo(ErrorCode.ImageInUse);
              assertThat(e.getMessage()).contains("written to during the copy");
            });
    assertThat(wrote.get()).isTrue();
  }

  @Test
  void aCloneForANodeWhoseAgentReadsAnOlderStreamIsAgentTooOldAndNothingIsSent() {
    // 6 knows spec.populate.cloneFrom.remote but not the stream format of 7
    nodes.start("node-c", Protocol.simulated(6, Protocol.MIN_SUPPORTED, Protocol.Field.TABLE));
    await()
        .atMost(Duration.ofSeconds(10))
        .until(() -> api.client.resources(Dom0Node.class).withName("node-c").get() != null);
    ready(h.create(disk("base", "node-a", null, "base")));
    h.create(disk("old", "node-c", new Populate.CloneFrom("base"), "old"));
    await()
        .atMost(Duration.ofSeconds(60))
        .until(
            () -> {
              var c = h.condition(h.get(NS, "old"), Conditions.READY);
              return c != null && Reasons.AGENT_TOO_OLD.equals(c.getReason());
            });
    assertThat(h.condition(h.get(NS, "old"), Conditions.READY).getMessage())
        .contains("node-c speaks protocol 6", "needs protocol " + Protocol.STREAM_SINCE);
    assertThat(nodes.images("node-c")).isEmpty();
  }

  // --- helpers ---

  private VirtualDisk ready(VirtualDisk created) {
    String name = created.getMetadata().getName();
    await()
        .atMost(Duration.ofSeconds(180))
        .pollInterval(Duration.ofMillis(200))
        .until(
            () -> {
              var c = h.condition(h.get(NS, name), Conditions.READY);
              return c != null && Conditions.TRUE.equals(c.getStatus());
            });
    return h.get(NS, name);
  }

  private VirtualDisk disk(String name, String node, Populate.CloneFrom clone, String hostname) {
    Populate populate =
        clone != null
            ? new Populate(null, null, clone, null, null)
            : new Populate(
                List.of(new Populate.HostPath(nodes.sources().resolve("tree").toString(), "/data")),
                null,
                null,
                List.of("/etc"),
                null);
    return Fixtures.disk(
        NS,
        name,
        new VirtualDiskSpec(
            node,
            "256Mi",
            VirtualDiskSpec.Filesystem.ext4,
            populate,
            new Tailor(hostname, null, null),
            null,
            null,
            null));
  }

  private DiskSpec wireClone(String node, String endpoint, String ticket) {
    return new DiskSpec(
        "node-b",
        "256Mi",
        DiskSpec.Filesystem.ext4,
        new DiskSpec.Populate(
            null,
            null,
            new DiskSpec.CloneFrom("base", null, new DiskSpec.Remote(node, endpoint, ticket)),
            null,
            null),
        new DiskSpec.Tailor("evil", null, null),
        null,
        null,
        null);
  }

  private AgentClient agent(String node) {
    return nodes.clients().forNode(node, endpoint(node));
  }

  private String endpoint(String node) {
    return nodes.agents.get(node).endpoint().toString();
  }

  private AgentTrust trust() {
    return AgentTrust.fromCa(nodes.ca.caCert(), AgentTrust.Identity.NODE);
  }

  /**
   * Files under the node's images root other than published images, their metadata and the lock
   * file.
   */
  private List<Path> leftovers(String node) throws IOException {
    try (Stream<Path> walk = Files.walk(nodes.root(node))) {
      return walk.filter(Files::isRegularFile)
          .filter(
              p -> {
                String f = p.getFileName().toString();
                return !(f.endsWith(".img") || f.endsWith(".json") || f.equals(".xenvbd.lock"));
              })
          .toList();
    }
  }

  private static byte[] fileInImage(Path image, String path) throws IOException {
    Path out = Files.createTempFile("xn-dump", ".bin");
    try {
      Files.delete(out);
      Exec.ok("debugfs", "-R", "dump " + path + " " + out, image.toString());
      return Files.readAllBytes(out);
    } finally {
      Files.deleteIfExists(out);
    }
  }

  private static String sha256(byte[] bytes) throws Exception {
    return HexFormat.of().formatHex(MessageDigest.getInstance("SHA-256").digest(bytes));
  }

  /**
   * Presents node-a's certificate and forwards to node-a's agent, flipping the 200th byte of the
   * first window.
   */
  private final class TamperingProxy implements AutoCloseable {
    final AtomicBoolean flipped = new AtomicBoolean();
    private final HttpsServer server;

    TamperingProxy(String upstream) throws IOException {
      CertificateAuthority.Issued cert =
          nodes.ca.issue(dir.resolve("proxy-" + UUID.randomUUID()), List.of("node-a", "127.0.0.1"));
      server = HttpsServer.create(new InetSocketAddress("127.0.0.1", 0), 8);
      server.setHttpsConfigurator(
          new HttpsConfigurator(Tls.serverContext(cert.cert(), cert.key())));
      HttpClient http = HttpClient.newBuilder().sslContext(nodes.clientSsl).build();
      server.createContext(
          "/",
          exchange -> {
            try {
              HttpResponse<InputStream> r =
                  http.send(
                      HttpRequest.newBuilder(URI.create(upstream + exchange.getRequestURI()))
                          .header(
                              "Authorization",
                              exchange.getRequestHeaders().getFirst("Authorization"))
                          .GET()
                          .build(),
                      HttpResponse.BodyHandlers.ofInputStream());
              byte[] all;
              try (InputStream in = r.body()) {
                all = in.readAllBytes();
              }
              if (all.length > 200 && all[0] == 'W' && flipped.compareAndSet(false, true))
                all[200] ^= 1;
              // a window has a fixed length (the target refuses one without)
              exchange.sendResponseHeaders(r.statusCode(), all.length == 0 ? -1 : all.length);
              try (OutputStream out = exchange.getResponseBody()) {
                out.write(all);
              }
            } catch (InterruptedException e) {
              Thread.currentThread().interrupt();
            } finally {
              exchange.close();
            }
          });
      server.start();
    }

    String endpoint() {
      return "https://127.0.0.1:" + server.getAddress().getPort();
    }

    @Override
    public void close() {
      server.stop(0);
    }
  }
}
