package io.xenvbd.agent;

import com.sun.net.httpserver.HttpExchange;
import com.sun.net.httpserver.HttpServer;
import io.xenvbd.testing.Exec;
import java.io.IOException;
import java.io.OutputStream;
import java.net.InetAddress;
import java.net.InetSocketAddress;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Map;
import java.util.Set;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.TimeUnit;

/**
 * A loopback HTTP server that serves one small, valid tar archive under any {@code /NAME.tar}, one
 * byte per second: a download that takes hours unless the test {@link #release}s it (the rest comes
 * at once). It records which names were asked for and which downloads the client walked away from.
 */
final class TricklingArchiveServer implements AutoCloseable {
  private final HttpServer server;
  private final ExecutorService threads =
      Executors.newCachedThreadPool(
          r -> {
            Thread t = new Thread(r, "trickle");
            t.setDaemon(true);
            return t;
          });
  private final byte[] archive;
  private final Map<String, CountDownLatch> released = new ConcurrentHashMap<>();
  final Set<String> requested = ConcurrentHashMap.newKeySet();
  final Set<String> abandoned = ConcurrentHashMap.newKeySet();

  /** {@code tree}: the directory the archive holds. */
  TricklingArchiveServer(Path tree, Path scratch) throws IOException {
    Path tar = scratch.resolve("trickle.tar");
    Exec.ok("tar", "-cf", tar.toString(), "-C", tree.toString(), ".");
    archive = Files.readAllBytes(tar);
    server = HttpServer.create(new InetSocketAddress(InetAddress.getByName("127.0.0.1"), 0), 16);
    server.setExecutor(threads);
    server.createContext("/", this::serve);
    server.start();
  }

  /** The archive's URL for a name (each build its own, so the test can tell them apart). */
  String url(String name) {
    return "http://127.0.0.1:" + server.getAddress().getPort() + "/" + name + ".tar";
  }

  /** The download of {@code name} (now or later) sends the rest of the archive at once. */
  void release(String name) {
    latch(name).countDown();
  }

  private CountDownLatch latch(String name) {
    return released.computeIfAbsent(name, k -> new CountDownLatch(1));
  }

  private void serve(HttpExchange ex) throws IOException {
    String path = ex.getRequestURI().getPath();
    String name = path.substring(1).replaceFirst("\\.tar$", "");
    requested.add(name);
    ex.getRequestBody().readAllBytes();
    ex.sendResponseHeaders(200, archive.length);
    OutputStream out = ex.getResponseBody();
    try {
      int sent = 0;
      while (sent < archive.length && !latch(name).await(sent == 0 ? 0 : 1, TimeUnit.SECONDS)) {
        out.write(archive[sent++]);
        out.flush();
      }
      out.write(archive, sent, archive.length - sent);
      out.flush();
    } catch (IOException e) {
      abandoned.add(name); // the client closed the connection
    } catch (InterruptedException e) {
      Thread.currentThread().interrupt();
    } finally {
      ex.close();
    }
  }

  /** Drops every connection: a download still running fails. */
  @Override
  public void close() {
    server.stop(0);
    threads.shutdownNow();
  }
}
