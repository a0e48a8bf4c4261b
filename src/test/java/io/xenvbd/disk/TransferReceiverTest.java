package io.xenvbd.disk;

import static io.xenvbd.disk.DiskTestSupport.engine;
import static io.xenvbd.disk.DiskTestSupport.request;
import static io.xenvbd.disk.DiskTestSupport.spec;
import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.catchThrowable;

import io.xenvbd.api.Populate;
import io.xenvbd.api.Tailor;
import io.xenvbd.api.VirtualDiskSpec.Filesystem;
import io.xenvbd.testing.RequiresRoot;
import java.io.ByteArrayInputStream;
import java.io.ByteArrayOutputStream;
import java.io.DataOutputStream;
import java.io.IOException;
import java.io.UncheckedIOException;
import java.nio.ByteBuffer;
import java.nio.file.Files;
import java.nio.file.LinkOption;
import java.nio.file.Path;
import java.security.MessageDigest;
import java.util.Arrays;
import java.util.List;
import java.util.function.UnaryOperator;
import java.util.stream.Stream;
import org.junit.jupiter.api.io.TempDir;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.Arguments;
import org.junit.jupiter.params.provider.MethodSource;

/**
 * A peer holding the source node's certificate sends windows that break the fixed-length framing
 * (TransferFormat): more than the window declares, fewer, a record across its end, a trailer early,
 * padding that is not zeros, an older agent's stream. Each clone fails with TransferFailed and a
 * message saying what was wrong, and the target's images root holds no file afterwards, even when
 * the digest of what was sent matches.
 */
@RequiresRoot
class TransferReceiverTest {
  private static final int SIZE = 64 << 20;
  private static final int DATA = 4096;

  @TempDir Path tmp;

  static Stream<Arguments> hostileWindows() {
    return Stream.of(
        Arguments.of(
            "one byte more than the window declares, after a valid trailer and digest",
            (UnaryOperator<byte[]>) w -> concat(w, new byte[] {0}),
            "runs past the length it declared"),
        Arguments.of(
            "a whole second window after the first one's end",
            (UnaryOperator<byte[]>) w -> concat(w, w),
            "runs past the length it declared"),
        Arguments.of(
            "the connection closes in the middle of the data",
            (UnaryOperator<byte[]>) w -> Arrays.copyOf(w, 9 + 22 + 13 + 100),
            "ended early"),
        Arguments.of(
            "the connection closes inside the trailer",
            (UnaryOperator<byte[]>) w -> Arrays.copyOf(w, w.length - 10),
            "ended early"),
        Arguments.of(
            "a window length smaller than its records",
            (UnaryOperator<byte[]>) w -> withLength(w, w.length - 9 - 100),
            "runs past the end of its window"),
        Arguments.of(
            "a window length larger than its records: the trailer comes early",
            (UnaryOperator<byte[]>) w -> withLength(w, w.length - 9 + 100),
            "bytes before the length it declared"),
        Arguments.of(
            "a window length over the largest a source plans",
            (UnaryOperator<byte[]>) w -> withLength(w, TransferFormat.MAX_WINDOW_LENGTH + 1),
            "a window declares"),
        Arguments.of(
            "a byte of the trailer's padding is not zero",
            (UnaryOperator<byte[]>)
                w -> {
                  byte[] t = w.clone();
                  t[t.length - 1] = 1;
                  return t;
                },
            "last record is malformed"),
        Arguments.of(
            "an older agent's stream (a header first, no window length)",
            (UnaryOperator<byte[]>) w -> Arrays.copyOfRange(w, 9, w.length),
            "older agent"));
  }

  @ParameterizedTest(name = "{0}")
  @MethodSource("hostileWindows")
  void aWindowThatBreaksItsFramingFailsTheCloneAndLeavesNoFile(
      String what, UnaryOperator<byte[]> tamper, String expected) throws Exception {
    byte[] window = tamper.apply(validWindow());
    Path root = tmp.resolve("b");
    DiskEngine b = engine(root);
    try {
      Throwable t =
          catchThrowable(
              () ->
                  b.build(
                      request(
                          "copy",
                          spec(
                              "64Mi",
                              Filesystem.ext4,
                              new Populate(null, null, new Populate.CloneFrom("base"), null, null),
                              new Tailor("copy", null, null))),
                      ProgressListener.NONE,
                      new RemoteClone(
                          "node-a",
                          credential -> new ByteArrayInputStream(window),
                          "A".repeat(43))));
      assertThat(t).as(what).isInstanceOf(DiskException.class);
      assertThat(((DiskException) t).code()).as(t.getMessage()).isEqualTo(ErrorCode.TransferFailed);
      assertThat(t.getMessage()).contains(expected).contains("nothing was published");
    } finally {
      b.close();
    }
    // the engine's own lock on its root is all that stays
    assertThat(regularFiles(root))
        .as("files left under the images root")
        .containsOnly(root.resolve(".xenvbd.lock"));
  }

  /**
   * A one-window stream a source would send for a 64 MiB ext4 image holding one block of data,
   * ending with the right digest.
   */
  private static byte[] validWindow() throws IOException {
    byte[] data = new byte[DATA];
    Arrays.fill(data, (byte) 7);
    ByteArrayOutputStream body = new ByteArrayOutputStream();
    DataOutputStream d = new DataOutputStream(body);
    d.writeByte(TransferFormat.HEADER);
    d.writeLong(SIZE);
    d.writeLong(DATA);
    d.writeByte(4);
    d.writeBytes("ext4");
    d.writeByte(TransferFormat.DATA);
    d.writeLong(0);
    d.writeInt(DATA);
    d.write(data);
    MessageDigest digest = TransferFormat.digest(SIZE);
    digest.update(ByteBuffer.allocate(12).putLong(0).putInt(DATA).array());
    digest.update(data);
    byte[] sha = digest.digest();
    ByteBuffer trailer = ByteBuffer.allocate(TransferFormat.TRAILER_BYTES);
    trailer.put(TransferFormat.END).putShort((short) sha.length).put(sha);
    d.write(trailer.array());
    return withLength(concat(new byte[9], body.toByteArray()), body.size());
  }

  /** The window with its W record (re)written to declare {@code length}. */
  private static byte[] withLength(byte[] window, long length) {
    byte[] w = window.clone();
    ByteBuffer.wrap(w, 0, 9).put(TransferFormat.WINDOW).putLong(length);
    return w;
  }

  private static byte[] concat(byte[] a, byte[] b) {
    byte[] c = Arrays.copyOf(a, a.length + b.length);
    System.arraycopy(b, 0, c, a.length, b.length);
    return c;
  }

  private static List<Path> regularFiles(Path root) {
    if (!Files.exists(root)) return List.of();
    try (Stream<Path> walk = Files.walk(root)) {
      return walk.filter(p -> Files.isRegularFile(p, LinkOption.NOFOLLOW_LINKS)).toList();
    } catch (IOException e) {
      throw new UncheckedIOException(e);
    }
  }
}
