package io.xenvbd.disk;

import java.io.IOException;
import java.io.InputStream;
import java.net.URI;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardCopyOption;
import java.time.Duration;

/** Fetches an http(s) archive the {@link UrlPolicy} allows into a file of the agent's own. */
final class Downloader {
  private final UrlPolicy policy;
  private final HttpClient http = HttpClient.newBuilder()
      .followRedirects(HttpClient.Redirect.NORMAL).connectTimeout(Duration.ofSeconds(30)).build();

  Downloader(UrlPolicy policy) {
    this.policy = policy;
  }

  void download(String url, Path to, long maxBytes) {
    HttpResponse<InputStream> resp;
    try {
      resp = http.send(HttpRequest.newBuilder(URI.create(url)).timeout(Duration.ofMinutes(30)).GET().build(),
          HttpResponse.BodyHandlers.ofInputStream());
    } catch (IOException e) {
      throw new DiskException(ErrorCode.CommandFailed, "downloading " + url + " failed: " + (e.getMessage() != null ? e.getMessage()
          : e instanceof java.net.ConnectException ? "connection refused" : e.getClass().getSimpleName())
          + ": check that the node can reach it", e);
    } catch (InterruptedException e) {
      throw new DiskException(ErrorCode.Interrupted, "interrupted while downloading " + url, e);
    }
    try (InputStream in = resp.body()) {
      if (resp.statusCode() != 200) {
        throw new DiskException(ErrorCode.CommandFailed, "downloading " + url + " returned HTTP " + resp.statusCode()
            + ": check the archive URL");
      }
      long n = Files.copy(new CappedInputStream(in, maxBytes), to, StandardCopyOption.REPLACE_EXISTING);
      if (n == 0) throw DiskException.invalid("archive " + url + " is empty");
    } catch (IOException e) {
      if (e instanceof CappedInputStream.TooLarge) {
        throw DiskException.invalid("archive " + url + " is larger than " + (maxBytes) + " bytes: refused");
      }
      throw Io.wrap(e, "downloading " + url);
    }
  }

}
