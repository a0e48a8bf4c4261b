package io.xenvbd.disk;

import static io.xenvbd.disk.DiskTestSupport.RUN;
import static io.xenvbd.disk.DiskTestSupport.sha256;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.LinkOption;
import java.nio.file.Path;
import java.security.SecureRandom;
import java.time.Duration;
import java.util.HexFormat;
import java.util.List;
import java.util.stream.Stream;
import org.assertj.core.api.SoftAssertions;

/**
 * What an attack must not touch on dom0, in a directory of its own outside the images root: a
 * victim file (content and link count), a victim directory that must stay empty, and a canary block
 * device — a loop device over a scratch file, whose major:minor hostile device nodes carry, so that
 * a write "into the image" that really went through such a node shows up as a changed scratch file.
 */
final class Canaries implements AutoCloseable {
  private static final SecureRandom RANDOM = new SecureRandom();

  final Path home;
  final Path victim;
  final Path victimDir;
  private final Path scratch;
  private final String loopDevice;
  final int major;
  final int minor;

  private boolean armed;
  private String victimSha;
  private Object victimLinks;
  private List<String> homeListing;
  private String scratchSha;
  private byte[] scratchBytes;

  private Canaries(
      Path home,
      Path victim,
      Path victimDir,
      Path scratch,
      String loopDevice,
      int major,
      int minor) {
    this.home = home;
    this.victim = victim;
    this.victimDir = victimDir;
    this.scratch = scratch;
    this.loopDevice = loopDevice;
    this.major = major;
    this.minor = minor;
  }

  /**
   * Victim file and directory in {@code home}, and a loop device over a 1 MiB random scratch file
   * there.
   */
  static Canaries create(Path home) throws IOException {
    Path victim = home.resolve("victim.txt");
    Files.writeString(victim, "dom0 secret " + random(16) + "\n");
    Path victimDir = Files.createDirectory(home.resolve("victimdir"));
    Path scratch = home.resolve("canary.bin");
    byte[] noise = new byte[1 << 20];
    RANDOM.nextBytes(noise);
    Files.write(scratch, noise);
    String dev = attach(scratch);
    String[] majMin =
        Files.readString(Path.of("/sys/block", Path.of(dev).getFileName().toString(), "dev"))
            .strip()
            .split(":");
    return new Canaries(
        home,
        victim,
        victimDir,
        scratch,
        dev,
        Integer.parseInt(majMin[0]),
        Integer.parseInt(majMin[1]));
  }

  /** Loop devices are shared with other tests on this machine: wait a little for a free one. */
  private static String attach(Path scratch) {
    long deadline = System.nanoTime() + Duration.ofSeconds(60).toNanos();
    while (true) {
      CommandRunner.Result r =
          RUN.exec(
              List.of("losetup", "--find", "--show", scratch.toString()),
              Duration.ofMinutes(1),
              null);
      if (r.ok()) return r.stdout().strip();
      if (System.nanoTime() > deadline)
        throw new IllegalStateException("no loop device for the canary: " + r.stderr());
      sleep(500);
    }
  }

  /**
   * Records what the attack must leave as it is; the first call wins (later attacks in a test
   * compare to it).
   */
  void arm() {
    if (armed) return;
    victimSha = sha256(victim);
    victimLinks = links(victim);
    homeListing = listing(home);
    scratchSha = scratchSha();
    scratchBytes = read(scratch);
    armed = true;
  }

  /** Every canary as armed; {@code when} says at which point of the test they were read. */
  void verify(String when) {
    SoftAssertions soft = new SoftAssertions();
    if (armed) {
      soft.assertThat(Files.isRegularFile(victim, LinkOption.NOFOLLOW_LINKS))
          .as(when + ": victim " + victim + " is still a regular file")
          .isTrue();
      soft.assertThat(sha256(victim))
          .as(
              when
                  + ": victim "
                  + victim
                  + " content (sha256; it now reads "
                  + printable(read(victim), 0)
                  + ")")
          .isEqualTo(victimSha);
      soft.assertThat(links(victim))
          .as(when + ": victim " + victim + " link count")
          .isEqualTo(victimLinks);
      soft.assertThat(listing(victimDir))
          .as(when + ": victim directory " + victimDir + " stays empty")
          .isEmpty();
      soft.assertThat(listing(home))
          .as(when + ": nothing new beside the victim in " + home)
          .isEqualTo(homeListing);
      String sha = scratchSha();
      soft.assertThat(sha)
          .as(
              when
                  + ": canary block device "
                  + loopDevice
                  + " ("
                  + major
                  + ":"
                  + minor
                  + ") content, read through its backing file"
                  + (sha.equals(scratchSha) ? "" : firstChange()))
          .isEqualTo(scratchSha);
    }
    soft.assertAll();
  }

  @Override
  public void close() {
    RUN.exec(List.of("losetup", "-d", loopDevice), Duration.ofMinutes(1), null);
  }

  /** mknod arguments of a block device node that reaches the canary. */
  List<String> blockNode() {
    return List.of("b", Integer.toString(major), Integer.toString(minor));
  }

  private String scratchSha() {
    // A write through the node sits in the loop device's page cache until flushed to the backing
    // file.
    RUN.exec(List.of("blockdev", "--flushbufs", loopDevice), Duration.ofMinutes(1), null);
    return sha256(scratch);
  }

  /** Where the canary device was written, and what: "vm1\n" at offset 0 says who did it. */
  private String firstChange() {
    byte[] now = read(scratch);
    for (int i = 0; i < Math.min(now.length, scratchBytes.length); i++) {
      if (now[i] != scratchBytes[i]) return "; written at offset " + i + ": " + printable(now, i);
    }
    return "; its length changed to " + now.length;
  }

  private static String printable(byte[] b, int from) {
    StringBuilder s = new StringBuilder("'");
    for (int i = from; i < Math.min(b.length, from + 40); i++) {
      int c = b[i] & 0xff;
      s.append(c == '\n' ? "\\n" : c >= 32 && c < 127 ? String.valueOf((char) c) : ".");
    }
    return s.append("'").toString();
  }

  private static byte[] read(Path p) {
    try {
      return Files.readAllBytes(p);
    } catch (IOException e) {
      return new byte[0];
    }
  }

  private static Object links(Path p) {
    try {
      return Files.getAttribute(p, "unix:nlink", LinkOption.NOFOLLOW_LINKS);
    } catch (IOException e) {
      return "unreadable: " + e;
    }
  }

  private static List<String> listing(Path dir) {
    try (Stream<Path> s = Files.list(dir)) {
      return s.map(p -> p.getFileName().toString()).sorted().toList();
    } catch (IOException e) {
      return List.of("unreadable: " + e);
    }
  }

  static String random(int bytes) {
    byte[] b = new byte[bytes];
    RANDOM.nextBytes(b);
    return HexFormat.of().formatHex(b);
  }

  static void sleep(long millis) {
    try {
      Thread.sleep(millis);
    } catch (InterruptedException e) {
      Thread.currentThread().interrupt();
      throw new IllegalStateException(e);
    }
  }
}
