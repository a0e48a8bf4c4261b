package io.xenvbd.bench;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.LocalDate;
import java.time.LocalTime;
import java.time.ZoneId;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.regex.Matcher;
import java.util.regex.Pattern;

/**
 * Where a disk's create → Ready time goes: the watch's wall-clock times (created, placed, Ready)
 * joined with the agent's own log lines ("HH:mm:ss.SSS … build of ns/name started|done"), so the
 * control plane's share and the agent's share can be told apart.
 */
final class Timeline {
  /** Wall-clock millis of one disk's milestones; 0 when unknown. */
  record Disk(long created, long placed, long buildStarted, long buildDone, long ready) {}

  private static final Pattern LINE =
      Pattern.compile("^(\\d\\d:\\d\\d:\\d\\d\\.\\d{3}) .*build of default/(\\S+) (started|done)");

  private Timeline() {}

  /**
   * name -> {started, done} wall-clock millis from the log (today, local time zone, as the logger
   * writes it).
   */
  static Map<String, long[]> agentBuilds(Path log) {
    Map<String, long[]> out = new HashMap<>();
    if (!Files.exists(log)) return out;
    LocalDate today = LocalDate.now();
    try {
      for (String line : Files.readAllLines(log)) {
        Matcher m = LINE.matcher(line);
        if (!m.find()) continue;
        long ms =
            LocalTime.parse(m.group(1))
                .atDate(today)
                .atZone(ZoneId.systemDefault())
                .toInstant()
                .toEpochMilli();
        long[] t = out.computeIfAbsent(m.group(2), k -> new long[2]);
        t[m.group(3).equals("started") ? 0 : 1] = ms;
      }
    } catch (IOException e) {
      return out;
    }
    return out;
  }

  /**
   * Medians and P95 of each step over the disks that have every milestone; empty text when the log
   * had none.
   */
  static String breakdown(List<Disk> disks) {
    List<Double> placed = new ArrayList<>();
    List<Double> toBuild = new ArrayList<>();
    List<Double> build = new ArrayList<>();
    List<Double> toReady = new ArrayList<>();
    for (Disk d : disks) {
      if (d.placed() == 0 || d.buildStarted() == 0 || d.buildDone() == 0 || d.ready() == 0)
        continue;
      placed.add((double) (d.placed() - d.created()));
      toBuild.add((double) (d.buildStarted() - d.placed()));
      build.add((double) (d.buildDone() - d.buildStarted()));
      toReady.add((double) (d.ready() - d.buildDone()));
    }
    if (placed.isEmpty()) return "";
    StringBuilder md = new StringBuilder("| step (ms) | median | P95 | max |\n|---|---|---|---|\n");
    row(md, "create → placed (status.nodeName seen by the watch)", placed);
    row(md, "placed → agent build started (agent log)", toBuild);
    row(md, "agent build (agent log: started → done)", build);
    row(md, "agent build done → Ready seen by the watch", toReady);
    return md.toString();
  }

  private static void row(StringBuilder md, String name, List<Double> v) {
    Stats s = Stats.of(v);
    md.append(
        String.format(
            Locale.ROOT,
            "| %s | %.0f | %.0f | %.0f |\n",
            name,
            s.median(),
            s.percentile(95),
            s.max()));
  }
}
