package io.xenvbd.disk;

import java.io.BufferedReader;
import java.io.IOException;
import java.io.InputStream;
import java.io.InputStreamReader;
import java.nio.charset.StandardCharsets;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.function.Consumer;

/**
 * The data extents of an image file: where SEEK_DATA/SEEK_HOLE find data, as xfs_io's seek command
 * reports them (on any filesystem). Holes, and extents allocated but never written (they read as
 * zeros), are left out. Read only of the agent's own image files (a published image that nothing
 * writes to meanwhile: a clone's template while its copy runs, a stream's source).
 *
 * <p>The report is read as it comes, never as a tool's kept output (which is cut at 64 KiB, about 1
 * 900 extents): a template a guest has written to every few blocks has hundreds of thousands.
 */
final class Extents {
  /** Data from {@code start} (inclusive) to {@code end} (exclusive), in bytes. */
  record Extent(long start, long end) {}

  /** At most this many extents in {@link #of}'s list; beyond, the shortest holes join extents. */
  static final int MAX_LISTED = 1 << 16;

  private Extents() {}

  /**
   * Tells {@code each} every extent of {@code image}'s first {@code size} bytes, in order, while
   * xfs_io reports them: as many as the file has, in constant memory. {@code started} is told the
   * xfs_io process as soon as it exists (it holds the image open: {@link CloneCopies#copy}).
   */
  static void forEach(
      CommandRunner runner,
      Path image,
      long size,
      Consumer<Process> started,
      Consumer<Extent> each) {
    runner.stream(
        List.of("xfs_io", "-r", "-c", "seek -a -r 0", image.toString()),
        Path.of("/dev/null"),
        started,
        in -> {
          parse(in, size, each);
          return null;
        },
        true);
  }

  /**
   * The extents as a list of at most {@link #MAX_LISTED}: where a file has more, holes shorter than
   * a length that doubles until they fit are counted as data (they read as zeros), so what is read
   * is still all the data, and memory stays bounded whatever a guest made of the file.
   */
  static List<Extent> of(CommandRunner runner, Path image, long size, Consumer<Process> started) {
    return listed(each -> forEach(runner, image, size, started, each));
  }

  /** The list of the extents that {@code report} tells, joined to at most {@link #MAX_LISTED}. */
  static List<Extent> listed(Consumer<Consumer<Extent>> report) {
    List<Extent> list = new ArrayList<>();
    long[] joined = {0}; // holes up to this length join the extents beside them
    report.accept(
        e -> {
          int last = list.size() - 1;
          if (last >= 0 && e.start() - list.get(last).end() <= joined[0]) {
            list.set(last, new Extent(list.get(last).start(), e.end()));
          } else {
            list.add(e);
          }
          while (list.size() > MAX_LISTED) {
            joined[0] = Math.max(2 * joined[0], 64 * 1024);
            join(list, joined[0]);
          }
        });
    return list;
  }

  /** Joins, in place, the extents of {@code list} with holes of at most {@code hole} between. */
  private static void join(List<Extent> list, long hole) {
    int kept = 0;
    for (Extent e : list) {
      if (kept > 0 && e.start() - list.get(kept - 1).end() <= hole) {
        list.set(kept - 1, new Extent(list.get(kept - 1).start(), e.end()));
      } else {
        list.set(kept++, e);
      }
    }
    list.subList(kept, list.size()).clear();
  }

  /**
   * xfs_io's report: a header, then at least one DATA or HOLE line, at increasing offsets, a DATA
   * line only after a HOLE line or first (a report that stops early says so on stderr, which fails
   * the run: {@link CommandRunner#stream}). Anything else is an error, never skipped: an extent
   * misread is data a clone would lack.
   */
  static void parse(InputStream in, long size, Consumer<Extent> each) throws IOException {
    BufferedReader r = new BufferedReader(new InputStreamReader(in, StandardCharsets.US_ASCII));
    long dataStart = -1;
    long previous = -1;
    boolean first = true;
    for (String line = r.readLine(); line != null; line = r.readLine()) {
      String[] f = line.strip().split("\\s+");
      if (first && f.length == 2 && f[0].equals("Whence") && f[1].equals("Result")) {
        first = false;
        continue;
      }
      first = false;
      long at = f.length == 2 ? offset(f[1]) : -1;
      boolean data = f[0].equals("DATA");
      if (at <= previous || !(data || f[0].equals("HOLE")) || (data && dataStart >= 0))
        throw new DiskException(
            ErrorCode.CommandFailed,
            "xfs_io's extent report of an image is not understood at the line '"
                + line
                + "'; no copy of it is made");
      previous = at;
      if (data) {
        dataStart = at;
      } else if (dataStart >= 0) {
        if (Math.min(at, size) > dataStart) each.accept(new Extent(dataStart, Math.min(at, size)));
        dataStart = -1;
      }
    }
    if (previous < 0)
      throw new DiskException(
          ErrorCode.CommandFailed,
          "xfs_io reported no extent of an image, not even a hole; no copy of it is made");
    if (dataStart >= 0 && dataStart < size) each.accept(new Extent(dataStart, size));
  }

  private static long offset(String s) {
    if (s.isEmpty() || s.length() > 18 || !s.chars().allMatch(c -> c >= '0' && c <= '9')) return -1;
    return Long.parseLong(s);
  }
}
