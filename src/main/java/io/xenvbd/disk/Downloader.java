package io.xenvbd.disk;

import java.io.EOFException;
import java.io.IOException;
import java.io.InterruptedIOException;
import java.io.OutputStream;
import java.net.ConnectException;
import java.net.ProtocolException;
import java.net.SocketTimeoutException;
import java.net.URI;
import java.net.UnknownHostException;
import java.net.http.HttpClient;
import java.net.http.HttpConnectTimeoutException;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.net.http.HttpTimeoutException;
import java.nio.ByteBuffer;
import java.nio.channels.ClosedByInterruptException;
import java.nio.file.Files;
import java.nio.file.LinkOption;
import java.nio.file.Path;
import java.nio.file.StandardOpenOption;
import java.security.Security;
import java.time.Duration;
import java.util.List;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.ExecutionException;
import java.util.concurrent.Flow;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.TimeoutException;
import javax.net.ssl.SSLContext;
import javax.net.ssl.SSLException;

/**
 * Fetches an http(s) archive the {@link UrlPolicy} allows into a file of the agent's own: every hop
 * (at most {@value #MAX_REDIRECTS} redirects, followed here, never by the client) must be under an
 * allowed prefix and resolve to public addresses only; reads stop after {@code idle} without a byte
 * or at the overall deadline; at most {@code maxBytes} are written. A failure's message names the
 * status code at most, never anything the server sent in a body.
 */
final class Downloader {
  static final Duration IDLE = Duration.ofSeconds(60);
  static final Duration DEADLINE = Duration.ofHours(1);
  static final int MAX_REDIRECTS = 5;

  /*
   * How the address check and the connection agree: UrlPolicy.admit resolves the host with
   * InetAddress.getAllByName just before each request, and the HttpClient resolves it again through
   * the same JDK cache when it connects (new InetSocketAddress(host, port)), so it connects to one of
   * the addresses just checked. That holds only while successful lookups are cached; the default is
   * 30 s, but a java.security file or -Dsun.net.inetaddr.ttl may set 0 (never cache), so it is set
   * explicitly here. The JDK reads it once, at its first cached name lookup: the agent loads this class
   * when it builds its disk engine, normally before that; if a name was looked up earlier, the JDK keeps
   * the policy it read then (30 s unless configured otherwise). What is left: a cache entry that expires
   * in the microseconds between the check and the client's own lookup is looked up afresh, and that
   * answer was not checked. A hostile DNS server for an allowed host would have to hit that instant of
   * its 30 s cycle; the admin removes even that by allowing only hosts whose DNS they trust.
   * Proxies are off (NO_PROXY), so the address checked is the address connected to.
   */
  static {
    String ttl = Security.getProperty("networkaddress.cache.ttl");
    if (ttl == null || !ttl.strip().matches("-1|[1-9][0-9]*"))
      Security.setProperty("networkaddress.cache.ttl", "30");
  }

  private final UrlPolicy policy;
  private final Duration idle;
  private final Duration deadline;
  private final HttpClient http;

  Downloader(UrlPolicy policy) {
    this(policy, IDLE, DEADLINE, null);
  }

  /** {@code ssl} null: the JDK's default trust. */
  Downloader(UrlPolicy policy, Duration idle, Duration deadline, SSLContext ssl) {
    this.policy = policy;
    this.idle = idle;
    this.deadline = deadline;
    HttpClient.Builder b =
        HttpClient.newBuilder()
            .followRedirects(HttpClient.Redirect.NEVER)
            .proxy(HttpClient.Builder.NO_PROXY)
            .version(HttpClient.Version.HTTP_1_1)
            .connectTimeout(
                idle.compareTo(Duration.ofSeconds(30)) < 0 ? idle : Duration.ofSeconds(30));
    if (ssl != null) b.sslContext(ssl);
    this.http = b.build();
  }

  void download(String url, Path to, long maxBytes) {
    String shown = ArchiveUrl.shown(url);
    URI uri;
    try {
      uri = ArchiveUrl.normalise(url);
    } catch (ArchiveUrl.Malformed e) {
      throw DiskException.invalid(
          "archive URL " + shown + " " + e.getMessage() + ": fix spec.populate.archive.source");
    }
    long deadlineAt = System.nanoTime() + deadline.toNanos();
    try {
      HttpResponse<Flow.Publisher<List<ByteBuffer>>> resp = fetch(uri, shown, deadlineAt);
      if (resp.statusCode() != 200) {
        BodyReader.discard(resp.body());
        throw new DiskException(
            ErrorCode.CommandFailed,
            "downloading "
                + shown
                + " returned HTTP "
                + resp.statusCode()
                + ": check the archive URL");
      }
      if (resp.headers().firstValueAsLong("content-length").orElse(-1) > maxBytes) {
        BodyReader.discard(resp.body());
        throw tooLarge(shown, maxBytes);
      }
      long n;
      try (OutputStream out = open(to)) {
        n =
            BodyReader.copy(
                resp.body(),
                out,
                maxBytes,
                idle.toNanos(),
                deadlineAt,
                "no data for " + seconds(idle),
                "not finished within " + seconds(deadline));
      }
      if (n == 0)
        throw DiskException.invalid(
            "archive " + shown + " is empty: fix spec.populate.archive.source");
    } catch (IOException | InterruptedException e) {
      throw failure(e, shown, maxBytes);
    }
  }

  /**
   * The first answer that is not a redirect, its body not yet read; every hop checked before it is
   * requested.
   */
  private HttpResponse<Flow.Publisher<List<ByteBuffer>>> fetch(
      URI first, String shown, long deadlineAt) throws IOException, InterruptedException {
    URI uri = first;
    for (int hop = 0; ; hop++) {
      policy.admit(
          uri,
          hop == 0
              ? "archive URL " + shown
              : "archive " + shown + " redirected to " + ArchiveUrl.shown(uri) + ", which");
      HttpResponse<Flow.Publisher<List<ByteBuffer>>> resp = headers(uri, deadlineAt);
      int status = resp.statusCode();
      if (status != 301 && status != 302 && status != 303 && status != 307 && status != 308)
        return resp;
      BodyReader.discard(resp.body()); // nothing of a redirect's body is read
      if (hop == MAX_REDIRECTS) {
        throw new DiskException(
            ErrorCode.CommandFailed,
            "archive "
                + shown
                + " redirected more than "
                + MAX_REDIRECTS
                + " times: give the archive's final URL");
      }
      String location =
          resp.headers()
              .firstValue("location")
              .orElseThrow(
                  () ->
                      new DiskException(
                          ErrorCode.CommandFailed,
                          "archive "
                              + shown
                              + " answered HTTP "
                              + status
                              + " without a Location: check the archive URL"));
      URI next;
      try {
        next = ArchiveUrl.redirect(uri, location);
      } catch (ArchiveUrl.Malformed e) {
        throw new DiskException(
            ErrorCode.CommandFailed,
            "archive "
                + shown
                + " redirected to a URL that "
                + e.getMessage()
                + ": check the archive URL");
      }
      if (uri.getScheme().equals("https") && next.getScheme().equals("http")) {
        throw new DiskException(
            ErrorCode.SourceNotAllowed,
            "archive "
                + shown
                + " redirected from https to "
                + ArchiveUrl.shown(next)
                + ", and the agent never downgrades to plain http: use a URL that stays on https");
      }
      uri = next;
    }
  }

  /**
   * Sends the request and waits (interruptibly, at most idle and never past the deadline) for the
   * headers.
   */
  private HttpResponse<Flow.Publisher<List<ByteBuffer>>> headers(URI uri, long deadlineAt)
      throws IOException, InterruptedException {
    long wait = Math.min(idle.toNanos(), deadlineAt - System.nanoTime());
    if (wait <= 0) throw new BodyReader.Stalled("not finished within " + seconds(deadline));
    CompletableFuture<HttpResponse<Flow.Publisher<List<ByteBuffer>>>> answer =
        http.sendAsync(
            HttpRequest.newBuilder(uri).timeout(idle).GET().build(),
            HttpResponse.BodyHandlers.ofPublisher());
    try {
      return answer.get(wait, TimeUnit.NANOSECONDS);
    } catch (TimeoutException e) {
      answer.cancel(true);
      throw new BodyReader.Stalled(
          deadlineAt - System.nanoTime() <= 0
              ? "not finished within " + seconds(deadline)
              : "no answer for " + seconds(idle));
    } catch (InterruptedException e) {
      answer.cancel(true);
      throw e;
    } catch (ExecutionException e) {
      if (e.getCause() instanceof HttpTimeoutException
          && !(e.getCause() instanceof HttpConnectTimeoutException)) {
        throw new BodyReader.Stalled("no answer for " + seconds(idle));
      }
      if (e.getCause() instanceof IOException io) throw io;
      throw new IOException(e.getCause());
    }
  }

  private static OutputStream open(Path to) throws BodyReader.WriteFailed {
    try {
      return Files.newOutputStream(
          to,
          StandardOpenOption.CREATE,
          StandardOpenOption.TRUNCATE_EXISTING,
          StandardOpenOption.WRITE,
          LinkOption.NOFOLLOW_LINKS);
    } catch (IOException e) {
      throw new BodyReader.WriteFailed(e);
    }
  }

  private DiskException failure(Exception e, String shown, long maxBytes) {
    if (e instanceof BodyReader.TooLarge) return tooLarge(shown, maxBytes);
    if (e instanceof BodyReader.Stalled) {
      return new DiskException(
          ErrorCode.CommandFailed,
          "downloading "
              + shown
              + " stopped: "
              + e.getMessage()
              + ": check that the server is up and serving the archive",
          e);
    }
    if (interrupted(e)) {
      Thread.interrupted(); // cleanup after this must still be able to run commands
      return new DiskException(ErrorCode.Interrupted, "interrupted while downloading " + shown, e);
    }
    if (e instanceof BodyReader.WriteFailed w)
      return Io.wrap(w.getCause(), "writing the download of " + shown);
    return new DiskException(
        ErrorCode.CommandFailed,
        "downloading " + shown + " failed: " + reason(e) + ": check that the node can reach it",
        e);
  }

  /**
   * A fixed phrase per kind of failure: a JDK message can quote what the server sent (an invalid
   * status line).
   */
  private static String reason(Exception e) {
    if (e instanceof HttpConnectTimeoutException) return "connection timed out";
    if (e instanceof ConnectException) return "connection refused";
    if (e instanceof UnknownHostException) return "the host does not resolve";
    if (e instanceof SSLException) return "the TLS handshake or session failed";
    if (e instanceof ProtocolException) return "the server's answer is not valid HTTP";
    if (e instanceof EOFException || String.valueOf(e.getMessage()).contains("closed"))
      return "the connection closed early";
    return e.getClass().getSimpleName();
  }

  private static boolean interrupted(Throwable e) {
    if (Thread.currentThread().isInterrupted()) return true;
    for (Throwable t = e; t != null; t = t.getCause()) {
      if (t instanceof InterruptedException
          || t instanceof ClosedByInterruptException
          || (t instanceof InterruptedIOException && !(t instanceof SocketTimeoutException))) {
        return true;
      }
    }
    return false;
  }

  private static DiskException tooLarge(String shown, long maxBytes) {
    return DiskException.invalid(
        "archive "
            + shown
            + " is larger than the disk (spec.size, "
            + maxBytes
            + " bytes): ask for a bigger spec.size or use a smaller archive");
  }

  /** "60 s", or "500 ms" below a whole second. */
  static String seconds(Duration d) {
    return d.toMillis() % 1000 == 0 ? d.toSeconds() + " s" : d.toMillis() + " ms";
  }
}
