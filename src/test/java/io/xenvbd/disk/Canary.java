package io.xenvbd.disk;

import java.io.IOException;
import java.io.InputStream;
import java.io.OutputStream;
import java.io.UncheckedIOException;
import java.net.InetAddress;
import java.net.ServerSocket;
import java.net.Socket;
import java.nio.charset.StandardCharsets;
import java.util.List;
import java.util.concurrent.CopyOnWriteArrayList;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.atomic.AtomicInteger;

/**
 * A TCP listener on 127.0.0.1 that counts every connection made to it, for tests that prove a URL
 * was refused before anything connected. Given an {@code answer}, it reads the request's head and
 * writes those bytes, then holds the connection open until closed (a stalled or hostile server).
 */
final class Canary implements AutoCloseable {
  final AtomicInteger connections = new AtomicInteger();
  final CountDownLatch connected = new CountDownLatch(1);
  private final ServerSocket socket;
  private final byte[] answer;
  private final List<Socket> open = new CopyOnWriteArrayList<>();

  private Canary(byte[] answer) {
    this.answer = answer;
    try {
      socket = new ServerSocket(0, 16, InetAddress.getByName("127.0.0.1"));
    } catch (IOException e) {
      throw new UncheckedIOException(e);
    }
    Thread t = new Thread(this::accept, "canary-" + socket.getLocalPort());
    t.setDaemon(true);
    t.start();
  }

  /** Counts connections, answers nothing. */
  static Canary silent() {
    return new Canary(null);
  }

  /** Answers every request with {@code raw} and then stalls. */
  static Canary answering(String raw) {
    return new Canary(raw.getBytes(StandardCharsets.ISO_8859_1));
  }

  int port() {
    return socket.getLocalPort();
  }

  String url(String path) {
    return "http://127.0.0.1:" + port() + path;
  }

  private void accept() {
    while (!socket.isClosed()) {
      try {
        Socket s = socket.accept();
        open.add(s);
        connections.incrementAndGet();
        connected.countDown();
        if (answer != null) {
          readHead(s.getInputStream());
          OutputStream out = s.getOutputStream();
          out.write(answer);
          out.flush();
        }
      } catch (IOException e) {
        // closed
      }
    }
  }

  private static void readHead(InputStream in) throws IOException {
    int state = 0;
    for (int b; state < 4 && (b = in.read()) >= 0; ) {
      state =
          (b == '\r' && (state == 0 || state == 2)) || (b == '\n' && (state == 1 || state == 3))
              ? state + 1
              : 0;
    }
  }

  @Override
  public void close() throws IOException {
    socket.close();
    for (Socket s : open) s.close();
  }
}
