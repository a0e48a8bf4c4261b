package io.xenvbd.tls;

import java.io.IOException;
import java.nio.file.Path;
import java.security.MessageDigest;
import java.security.NoSuchAlgorithmException;
import java.time.Clock;
import java.time.Duration;
import java.time.Instant;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.Objects;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * Credentials read from files that an admin (or the kubelet, updating a mounted Secret) may replace
 * while the process runs: the one reloading mechanism for tokens, certificates and CAs, on the
 * agent's and the operator's side alike.
 *
 * <p>On a look-up at most every {@code poll}, the files are read again and compared by content
 * hash; new content is parsed, and when it parses it becomes current while the value it replaces
 * stays {@linkplain #accepted accepted} for {@code overlap} more, so that the other side of a
 * connection, which notices the change at its own time, keeps working. New content that does not
 * parse (an empty token, a half-written certificate, a key that does not match its certificate) is
 * refused: the value in use stays, and the refusal is logged once and kept in {@link #error} with
 * the file to fix.
 *
 * <p>Each file is read as hostile input ({@link ConfinedFile}).
 */
public final class Rotating<T> {
  private static final Logger LOG = LoggerFactory.getLogger(Rotating.class);

  /** How long the replaced value stays accepted, unless configured otherwise. */
  public static final long DEFAULT_OVERLAP_SECONDS = 600;

  /** {@link #DEFAULT_OVERLAP_SECONDS}. */
  public static final Duration DEFAULT_OVERLAP = Duration.ofSeconds(DEFAULT_OVERLAP_SECONDS);

  /** How often the files are compared at most, unless configured otherwise. */
  public static final Duration DEFAULT_POLL = Duration.ofSeconds(2);

  /** Turns the files' contents (in the order given) into a value, or says what is wrong. */
  @FunctionalInterface
  public interface Parser<T> {
    /**
     * @throws IllegalArgumentException with a sentence that names the file and what to change
     */
    T parse(List<byte[]> contents);
  }

  /** One value read from the files, numbered in the order they were taken into use. */
  public record Version<T>(long number, T value) {}

  private record State<T>(Version<T> current, byte[] hash, Version<T> previous, Instant retired) {}

  private final String what;
  private final List<Path> files;
  private final long maxBytes;
  private final Parser<T> parser;
  private final Duration overlap;
  private final Duration poll;
  private final Clock clock;
  private volatile State<T> state;
  private volatile Instant checked;
  private volatile String error;
  private String refusedKey;

  private Rotating(
      String what,
      List<Path> files,
      long maxBytes,
      Parser<T> parser,
      Duration overlap,
      Duration poll,
      Clock clock,
      T fixed) {
    this.what = what;
    this.files = List.copyOf(files);
    this.maxBytes = maxBytes;
    this.parser = parser;
    this.overlap = Objects.requireNonNull(overlap, "overlap");
    this.poll = Objects.requireNonNull(poll, "poll");
    this.clock = clock;
    if (overlap.isNegative())
      throw new IllegalArgumentException("the overlap must not be negative");
    this.checked = clock.instant();
    if (fixed != null) {
      state = new State<>(new Version<>(1, fixed), new byte[0], null, null);
      return;
    }
    byte[][] contents = new byte[files.size()][];
    byte[] hash;
    try {
      hash = read(contents);
    } catch (IOException e) {
      throw new IllegalArgumentException("cannot read the " + what + ": " + e.getMessage(), e);
    }
    state = new State<>(new Version<>(1, parser.parse(Arrays.asList(contents))), hash, null, null);
  }

  /**
   * {@code files} read and parsed now; a failure here is thrown ({@link IllegalArgumentException}
   * with the parser's or the reader's sentence), since there is nothing older to keep using.
   *
   * @param what what the files hold, for messages ("the agent token")
   */
  public static <T> Rotating<T> of(
      String what,
      List<Path> files,
      long maxBytes,
      Parser<T> parser,
      Duration overlap,
      Duration poll,
      Clock clock) {
    if (files.isEmpty()) throw new IllegalArgumentException("no file to read " + what + " from");
    return new Rotating<>(what, files, maxBytes, parser, overlap, poll, clock, null);
  }

  /** One file, the default poll interval and the system clock. */
  public static <T> Rotating<T> of(
      String what, Path file, long maxBytes, Parser<T> parser, Duration overlap) {
    return of(what, List.of(file), maxBytes, parser, overlap, DEFAULT_POLL, Clock.systemUTC());
  }

  /** A value that never changes (given directly, not read from a file: local mode and tests). */
  public static <T> Rotating<T> fixed(T value) {
    return new Rotating<>(
        "a fixed value",
        List.of(),
        0,
        c -> value,
        Duration.ZERO,
        Duration.ZERO,
        Clock.systemUTC(),
        Objects.requireNonNull(value, "value"));
  }

  /** The value in use (after looking at the files when a poll is due). */
  public T current() {
    return version().value();
  }

  /** The value in use with its number. */
  public Version<T> version() {
    refreshIfDue();
    return state.current();
  }

  /** What is accepted now: the current value, then the one it replaced while the overlap lasts. */
  public List<T> accepted() {
    refreshIfDue();
    State<T> s = state;
    List<T> out = new ArrayList<>(2);
    out.add(s.current().value());
    if (inOverlap(s)) out.add(s.previous().value());
    return out;
  }

  /**
   * The value numbered {@code number} if it is the current or the replaced one (a handshake that
   * chose it just before a switch), else null.
   */
  public T valueOf(long number) {
    State<T> s = state;
    if (s.current().number() == number) return s.current().value();
    if (s.previous() != null && s.previous().number() == number) return s.previous().value();
    return null;
  }

  /**
   * Changes whenever {@link #accepted} does (a switch, or the end of an overlap): whoever built
   * something from the accepted values (a connection pool) builds it again.
   */
  public long epoch() {
    refreshIfDue();
    State<T> s = state;
    return s.current().number() * 2 + (inOverlap(s) ? 1 : 0);
  }

  /** Why the files in place are not in use (what to fix), or null when they are. */
  public String error() {
    refreshIfDue();
    return error;
  }

  /** The files, in the order the parser gets their contents. */
  public List<Path> files() {
    return files;
  }

  private boolean inOverlap(State<T> s) {
    return s.previous() != null && clock.instant().isBefore(s.retired().plus(overlap));
  }

  private void refreshIfDue() {
    if (files.isEmpty()) return;
    Instant now = clock.instant();
    if (now.isBefore(checked.plus(poll))) return;
    synchronized (this) {
      if (now.isBefore(checked.plus(poll))) return;
      checked = now;
      refresh(now);
    }
  }

  private void refresh(Instant now) {
    byte[][] contents = new byte[files.size()][];
    byte[] hash;
    try {
      hash = read(contents);
    } catch (IOException e) {
      refuse(e.getMessage(), e.getMessage());
      return;
    }
    State<T> s = state;
    if (MessageDigest.isEqual(hash, s.hash())) {
      error = null;
      refusedKey = null;
      return;
    }
    T value;
    try {
      value = parser.parse(Arrays.asList(contents));
    } catch (IllegalArgumentException e) {
      refuse(e.getMessage(), hex(hash));
      return;
    } catch (RuntimeException e) {
      // a parser's surprise must not reach the handshake or the request that looked
      refuse(files + " cannot be used: " + e, hex(hash));
      return;
    }
    long number = s.current().number() + 1;
    state = new State<>(new Version<>(number, value), hash, s.current(), now);
    error = null;
    refusedKey = null;
    LOG.info(
        "{} changed in {}: using the new one; the old one stays accepted for {} s",
        what,
        files,
        overlap.toSeconds());
  }

  /** Logs a refusal once per distinct bad content (or read error). */
  private void refuse(String why, String key) {
    error =
        "the "
            + what
            + " changed, but the new content is refused and the old one stays in use until this is"
            + " fixed: "
            + why;
    if (!key.equals(refusedKey)) {
      refusedKey = key;
      LOG.error("{}", error);
    }
  }

  /** Reads every file into {@code contents}; returns the hash over all of them. */
  private byte[] read(byte[][] contents) throws IOException {
    MessageDigest digest = sha256();
    for (int i = 0; i < files.size(); i++) {
      contents[i] = ConfinedFile.read(files.get(i), maxBytes);
      digest.update(longBytes(contents[i].length));
      digest.update(contents[i]);
    }
    return digest.digest();
  }

  private static MessageDigest sha256() {
    try {
      return MessageDigest.getInstance("SHA-256");
    } catch (NoSuchAlgorithmException e) {
      throw new IllegalStateException("SHA-256 is missing from this JVM", e);
    }
  }

  private static byte[] longBytes(long v) {
    byte[] b = new byte[8];
    for (int i = 7; i >= 0; i--) {
      b[i] = (byte) v;
      v >>>= 8;
    }
    return b;
  }

  private static String hex(byte[] hash) {
    StringBuilder sb = new StringBuilder();
    for (byte b : hash) sb.append(String.format("%02x", b));
    return sb.toString();
  }
}
