package io.xenvbd.disk;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.catchThrowableOfType;

import java.io.ByteArrayInputStream;
import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.util.ArrayList;
import java.util.List;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.ValueSource;

/** Reading xfs_io's extent report: every extent or an error, and a list of bounded length. */
class ExtentsTest {
  private static List<Extents.Extent> parse(String report, long size) throws IOException {
    List<Extents.Extent> got = new ArrayList<>();
    Extents.parse(
        new ByteArrayInputStream(report.getBytes(StandardCharsets.US_ASCII)), size, got::add);
    return got;
  }

  @Test
  void dataAndHolesBecomeExtentsClippedToTheSize() throws IOException {
    assertThat(parse("Whence\tResult\nDATA\t0\nHOLE\t4096\nDATA\t8192\nHOLE\t20480\n", 16384))
        .containsExactly(new Extents.Extent(0, 4096), new Extents.Extent(8192, 16384));
    assertThat(parse("Whence\tResult\nHOLE\t0\nDATA\t4096\n", 10000))
        .as("data to the end of the file")
        .containsExactly(new Extents.Extent(4096, 10000));
    assertThat(parse("Whence\tResult\nHOLE\t0\n", 1 << 20)).isEmpty();
  }

  @ParameterizedTest
  @ValueSource(
      strings = {
        "Whence\tResult\nDATA\t0\nDATA\t4096\nHOLE\t8192\n", // a DATA line cut out between
        "Whence\tResult\nDATA\t8192\nHOLE\t4096\n", // offsets going back
        "Whence\tResult\nDATA\t0\nHOLE\t40\n96\n", // a line cut in two
        "Whence\tResult\nDATA\t0\nxfs_io: seek failed\n",
        "Whence\tResult\nDATA\t-1\n",
        "Whence\tResult\nDATA\t99999999999999999999\n"
      })
  void aReportNotUnderstoodIsAnErrorNotAShorterCopy(String report) {
    DiskException e = catchThrowableOfType(() -> parse(report, 1 << 20), DiskException.class);
    assertThat(e).isNotNull();
    assertThat(e.getMessage()).startsWith("xfs_io's extent report of an image is not understood");
  }

  @Test
  void aReportWithNoLineIsAnError() {
    DiskException e =
        catchThrowableOfType(() -> parse("Whence\tResult\n", 1 << 20), DiskException.class);
    assertThat(e).isNotNull();
    assertThat(e.getMessage()).contains("reported no extent");
  }

  /**
   * xfs_io says that its report stopped early (a failed lseek) on stderr alone, and exits 0: the
   * run that reads it fails on any stderr.
   */
  @Test
  void aReportWhoseToolSpokeOnStderrFailsThoughItExitedZero() {
    CommandRunner runner = new CommandRunner(java.time.Duration.ofMinutes(1));
    DiskException e =
        catchThrowableOfType(
            () ->
                runner.stream(
                    List.of(
                        "sh", "-c", "printf 'Whence\\tResult\\nHOLE\\t0\\n'; echo bad_result >&2"),
                    java.nio.file.Path.of("/dev/null"),
                    null,
                    in -> in.readAllBytes().length,
                    true),
            DiskException.class);
    assertThat(e).isNotNull();
    assertThat(e.getMessage()).contains("bad_result");
    int read =
        runner.stream(
            List.of("sh", "-c", "echo ok"),
            java.nio.file.Path.of("/dev/null"),
            null,
            in -> in.readAllBytes().length,
            true);
    assertThat(read).as("bytes read from a quiet tool").isEqualTo(3);
  }

  @Test
  void aListOfMoreExtentsThanItsBoundStillCoversAllTheData() {
    int n = 3 * Extents.MAX_LISTED + 17;
    List<Extents.Extent> told = new ArrayList<>();
    for (int i = 0; i < n; i++) told.add(new Extents.Extent(i * 12288L, i * 12288L + 4096));
    List<Extents.Extent> list = Extents.listed(each -> told.forEach(each));

    assertThat(list).hasSizeLessThanOrEqualTo(Extents.MAX_LISTED);
    int at = 0;
    for (Extents.Extent e : told) { // every extent told lies inside one listed extent, in order
      while (list.get(at).end() < e.end()) at++;
      assertThat(list.get(at).start()).isLessThanOrEqualTo(e.start());
    }
    for (int i = 1; i < list.size(); i++)
      assertThat(list.get(i).start()).isGreaterThan(list.get(i - 1).end());
  }
}
