package io.xenvbd.tls;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import io.xenvbd.testing.Exec;
import io.xenvbd.testing.SecretVolume;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Clock;
import java.time.Duration;
import java.time.Instant;
import java.time.ZoneOffset;
import java.util.List;
import java.util.Map;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * The one reloading mechanism: a file replaced the way the kubelet replaces a mounted Secret is
 * taken into use, the replaced value accepted for the overlap and no longer after it; bad new
 * content and files that lead elsewhere are refused while the value in use stays.
 */
class RotatingTest {
  static final Duration OVERLAP = Duration.ofSeconds(30);
  static final Duration POLL = Duration.ofSeconds(2);
  @TempDir Path dir;

  /** A clock the test moves. */
  static final class Hands extends Clock {
    Instant now = Instant.parse("2026-12-02T00:00:00Z");

    void advance(Duration d) {
      now = now.plus(d);
    }

    @Override
    public Instant instant() {
      return now;
    }

    @Override
    public java.time.ZoneId getZone() {
      return ZoneOffset.UTC;
    }

    @Override
    public Clock withZone(java.time.ZoneId zone) {
      return this;
    }
  }

  final Hands clock = new Hands();

  Rotating<String> token(Path file) {
    return Rotating.of(
        "test token",
        List.of(file),
        4096,
        c -> {
          String t = new String(c.get(0), StandardCharsets.UTF_8).strip();
          if (t.isEmpty())
            throw new IllegalArgumentException(file + " is empty: put a token in it");
          return t;
        },
        OVERLAP,
        POLL,
        clock);
  }

  SecretVolume volume(String token) throws Exception {
    return SecretVolume.create(dir.resolve("secret"), Map.of("token", token.getBytes()));
  }

  @Test
  void aSecretUpdateIsUsedAfterThePollAndTheOldOneIsAcceptedOnlyForTheOverlap() throws Exception {
    SecretVolume v = volume("old\n");
    Rotating<String> t = token(v.file("token"));
    assertThat(t.accepted()).containsExactly("old");
    long before = t.epoch();

    v.update("token", "new\n");
    assertThat(t.current()).as("not looked at before the poll interval").isEqualTo("old");
    clock.advance(POLL);
    assertThat(t.accepted()).containsExactly("new", "old");
    assertThat(t.epoch()).isNotEqualTo(before);
    long during = t.epoch();

    clock.advance(OVERLAP.minusSeconds(1));
    assertThat(t.accepted()).containsExactly("new", "old");
    clock.advance(Duration.ofSeconds(1));
    assertThat(t.accepted()).as("after the overlap").containsExactly("new");
    assertThat(t.epoch()).as("the end of the overlap is a change too").isNotEqualTo(during);
    assertThat(t.error()).isNull();
  }

  @Test
  void badNewContentIsRefusedWithTheFileToFixAndTheOldStaysUntilItIsFixed() throws Exception {
    SecretVolume v = volume("old");
    Rotating<String> t = token(v.file("token"));
    v.update("token", "  \n");
    clock.advance(POLL);
    assertThat(t.accepted()).containsExactly("old");
    assertThat(t.error())
        .contains(
            "the test token changed, but the new content is refused",
            v.file("token") + " is empty: put a token in it");
    clock.advance(OVERLAP.multipliedBy(2));
    assertThat(t.accepted()).as("still, long after").containsExactly("old");

    v.update("token", "fixed");
    clock.advance(POLL);
    assertThat(t.accepted()).containsExactly("fixed", "old");
    assertThat(t.error()).isNull();
  }

  @Test
  void aLinkOutOfTheDirectoryIsRefusedAtStartAndAfterARotation() throws Exception {
    Path outside = Files.writeString(dir.resolve("host-secret"), "stolen");
    Path conf = Files.createDirectories(dir.resolve("conf"));
    Files.createSymbolicLink(conf.resolve("token"), outside);
    assertThatThrownBy(() -> token(conf.resolve("token")))
        .isInstanceOf(IllegalArgumentException.class)
        .hasMessageContaining("outside its directory " + conf.toRealPath());

    // a Secret volume whose ..data is made to point elsewhere after start
    SecretVolume v = volume("old");
    Rotating<String> t = token(v.file("token"));
    Path evil = Files.createDirectories(dir.resolve("evil"));
    Files.writeString(evil.resolve("token"), "stolen");
    Path tmp = v.dir().resolve("..data_tmp");
    Files.createSymbolicLink(tmp, evil);
    Files.move(tmp, v.dir().resolve("..data"), java.nio.file.StandardCopyOption.REPLACE_EXISTING);
    clock.advance(POLL);
    assertThat(t.accepted()).containsExactly("old");
    assertThat(t.error()).contains("outside its directory");
  }

  @Test
  void aFifoADeviceAHardLinkAndAnEndlessFileAreRefused() throws Exception {
    Path conf = Files.createDirectories(dir.resolve("conf"));
    Path fifo = conf.resolve("fifo");
    Exec.ok("mkfifo", fifo.toString());
    assertThatThrownBy(() -> token(fifo)).hasMessageContaining("is not a regular file");
    Path other = Files.writeString(conf.resolve("other"), "x");
    Path hard = Files.createLink(conf.resolve("hard"), other);
    assertThatThrownBy(() -> token(hard)).hasMessageContaining("has 2 hard links");
    Path big = Files.write(conf.resolve("big"), new byte[5000]);
    assertThatThrownBy(() -> token(big)).hasMessageContaining("is larger than 4096 bytes");
    Path zero = conf.resolve("zero");
    Files.createSymbolicLink(zero, Path.of("/dev/zero"));
    assertThatThrownBy(() -> token(zero)).hasMessageContaining("outside its directory");
  }
}
