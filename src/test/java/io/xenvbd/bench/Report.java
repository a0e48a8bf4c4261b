package io.xenvbd.bench;

import java.io.IOException;
import java.io.UncheckedIOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Instant;
import java.time.temporal.ChronoUnit;

/**
 * The Markdown report. Each benchmark owns one section between markers and rewrites only that
 * section, so the analysis written by hand around the sections survives a re-run.
 */
final class Report {
  private final Path file;

  Report(Path file) {
    this.file = file;
  }

  Path file() {
    return file;
  }

  synchronized void section(String id, String markdown) {
    String begin = "<!-- bench:" + id + ":begin -->";
    String end = "<!-- bench:" + id + ":end -->";
    String block = begin + "\n" + markdown.strip() + "\n" + end;
    try {
      if (file.getParent() != null) Files.createDirectories(file.getParent());
      String text = Files.exists(file) ? Files.readString(file) : "# Benchmarks\n";
      int b = text.indexOf(begin);
      int e = text.indexOf(end);
      String updated =
          b >= 0 && e > b
              ? text.substring(0, b) + block + text.substring(e + end.length())
              : text.stripTrailing() + "\n\n" + block + "\n";
      Files.writeString(file, updated);
    } catch (IOException ex) {
      throw new UncheckedIOException(
          "cannot write the report " + file + ": " + ex.getMessage(), ex);
    }
  }

  /** The environment line every section carries: when, where, how loaded. */
  static String environment() {
    String load;
    try {
      load = Files.readString(Path.of("/proc/loadavg")).trim().split(" ")[0];
    } catch (IOException e) {
      load = "?";
    }
    return "Measured "
        + Instant.now().truncatedTo(ChronoUnit.SECONDS)
        + " on "
        + Runtime.getRuntime().availableProcessors()
        + " CPUs, load average "
        + load
        + " at the end of the run, "
        + System.getProperty("java.vm.name")
        + " "
        + System.getProperty("java.version")
        + ".";
  }
}
