package io.xenvbd.protocol;

import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;

/**
 * A bearer token kept in a file, the way a mounted Secret or a hand-written file holds it: UTF-8,
 * with the surrounding white space (the trailing newline an editor or {@code echo} adds) not part
 * of the token. The one reader of the agent's, the operator's, the per-node and local mode's token
 * files, so that all of them agree on what a file means.
 */
public final class TokenFile {
  private TokenFile() {}

  /**
   * The token in {@code file}; empty when the file holds only white space (each caller says what to
   * do then).
   */
  public static String read(Path file) throws IOException {
    return Files.readString(file, StandardCharsets.UTF_8).strip();
  }

  /** Largest token file read: a token is a few dozen bytes. */
  public static final int MAX_BYTES = 4096;

  /** The token in a file's content, as {@link #read} sees it. */
  public static String parse(byte[] content) {
    return new String(content, StandardCharsets.UTF_8).strip();
  }
}
