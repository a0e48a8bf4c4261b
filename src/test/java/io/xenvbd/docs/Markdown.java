package io.xenvbd.docs;

import java.io.IOException;
import java.io.UncheckedIOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.LinkedHashSet;
import java.util.List;
import java.util.Set;
import java.util.regex.Matcher;
import java.util.regex.Pattern;

/** The parts of the project's markdown that make claims about the code: tables and code spans. */
public final class Markdown {
  private static final Pattern CODE = Pattern.compile("`([^`]+)`");

  private Markdown() {}

  public static String read(String file) {
    try {
      return Files.readString(Path.of(file));
    } catch (IOException e) {
      throw new UncheckedIOException(e);
    }
  }

  /**
   * The body rows (cells trimmed) of the first table whose header row is exactly {@code header}
   * (cells joined by " | "); fails when there is none, so a renamed table is noticed.
   */
  public static List<List<String>> table(String file, String header) {
    List<String> lines = read(file).lines().toList();
    for (int i = 0; i + 1 < lines.size(); i++) {
      if (!lines.get(i).startsWith("|") || !String.join(" | ", cells(lines.get(i))).equals(header))
        continue;
      List<List<String>> rows = new ArrayList<>();
      for (int j = i + 2; j < lines.size() && lines.get(j).startsWith("|"); j++)
        rows.add(cells(lines.get(j)));
      if (rows.isEmpty()) throw new AssertionError(file + ": the table '" + header + "' is empty");
      return rows;
    }
    throw new AssertionError(file + " has no table with the header '" + header + "'");
  }

  /** The text between {@code start} (a heading line) and the next heading of the same level. */
  public static String section(String file, String heading) {
    String text = read(file);
    int at = text.indexOf("\n" + heading + "\n");
    if (at < 0) throw new AssertionError(file + " has no section '" + heading + "'");
    String level = heading.substring(0, heading.indexOf(' ') + 1);
    int end = text.indexOf("\n" + level, at + heading.length() + 1);
    return text.substring(at, end < 0 ? text.length() : end);
  }

  /** Every code span in {@code text}, in order, without duplicates. */
  public static Set<String> codeSpans(String text) {
    Set<String> spans = new LinkedHashSet<>();
    // line by line, so that one stray backtick (or a fenced block's ```) cannot shift the pairing
    // of every span after it
    for (String line : text.lines().toList()) {
      if (line.strip().startsWith("```")) continue;
      Matcher m = CODE.matcher(line);
      while (m.find()) spans.add(m.group(1));
    }
    return spans;
  }

  /** The code spans of {@code text} that match {@code pattern} whole. */
  public static Set<String> codeSpans(String text, Pattern pattern) {
    Set<String> matching = new LinkedHashSet<>();
    for (String s : codeSpans(text)) if (pattern.matcher(s).matches()) matching.add(s);
    return matching;
  }

  /**
   * The names matching {@code pattern} that a cell gives as code spans, e.g. "`--workers`
   * (`XENVBD_WORKERS`)": spans matching whole, and names inside a span such as "(`A`, `B`,
   * comma-separated)".
   */
  public static Set<String> codeSpansOrParenthesised(String cell, Pattern pattern) {
    Set<String> found = new LinkedHashSet<>();
    for (String span : codeSpans(cell)) {
      if (pattern.matcher(span).matches()) found.add(span);
    }
    return found;
  }

  /** Every match of {@code pattern} in {@code text}, in order, without duplicates. */
  public static Set<String> all(String text, Pattern pattern) {
    Set<String> found = new LinkedHashSet<>();
    Matcher m = pattern.matcher(text);
    while (m.find()) found.add(m.group(m.groupCount() > 0 ? 1 : 0));
    return found;
  }

  private static List<String> cells(String line) {
    String inner = line.strip();
    inner = inner.substring(1, inner.endsWith("|") ? inner.length() - 1 : inner.length());
    List<String> cells = new ArrayList<>();
    // a | inside a code span is text, not a column break
    StringBuilder cell = new StringBuilder();
    boolean code = false;
    for (char c : inner.toCharArray()) {
      if (c == '`') code = !code;
      if (c == '|' && !code) {
        cells.add(cell.toString().strip());
        cell.setLength(0);
      } else cell.append(c);
    }
    cells.add(cell.toString().strip());
    return cells;
  }
}
