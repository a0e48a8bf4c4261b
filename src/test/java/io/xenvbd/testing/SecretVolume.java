package io.xenvbd.testing;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardCopyOption;
import java.util.Map;
import java.util.concurrent.atomic.AtomicInteger;

/**
 * A directory laid out the way the kubelet lays out a mounted Secret: each key a link {@code key ->
 * ..data/key}, {@code ..data} a link to the current timestamped directory, and an update that
 * writes a new timestamped directory and swaps {@code ..data} with one rename (its AtomicWriter).
 */
public final class SecretVolume {
  private final Path dir;
  private final AtomicInteger version = new AtomicInteger();

  private SecretVolume(Path dir) {
    this.dir = dir;
  }

  /** A volume in {@code dir} holding {@code files} (key to content). */
  public static SecretVolume create(Path dir, Map<String, byte[]> files) throws IOException {
    SecretVolume v = new SecretVolume(Files.createDirectories(dir));
    v.update(files);
    for (String key : files.keySet())
      Files.createSymbolicLink(dir.resolve(key), Path.of("..data", key));
    return v;
  }

  public Path dir() {
    return dir;
  }

  public Path file(String key) {
    return dir.resolve(key);
  }

  /**
   * What the kubelet does when the Secret changes (the keys not given keep their content): new
   * directory, one atomic swap, old removed.
   */
  public void update(Map<String, byte[]> files) throws IOException {
    Path data = dir.resolve("..data");
    Path old = Files.isSymbolicLink(data) ? dir.resolve(Files.readSymbolicLink(data)) : null;
    Path next = Files.createDirectory(dir.resolve("..v" + version.incrementAndGet()));
    if (old != null) {
      try (var kept = Files.list(old)) {
        for (Path p : kept.toList()) Files.copy(p, next.resolve(p.getFileName()));
      }
    }
    for (Map.Entry<String, byte[]> f : files.entrySet())
      Files.write(next.resolve(f.getKey()), f.getValue());
    Path tmp = dir.resolve("..data_tmp");
    Files.deleteIfExists(tmp);
    Files.createSymbolicLink(tmp, next.getFileName());
    Files.move(tmp, data, StandardCopyOption.ATOMIC_MOVE, StandardCopyOption.REPLACE_EXISTING);
    if (old != null) {
      try (var files2 = Files.list(old)) {
        for (Path p : files2.toList()) Files.delete(p);
      }
      Files.delete(old);
    }
  }

  /** {@link #update} of one key with text. */
  public void update(String key, String content) throws IOException {
    update(Map.of(key, content.getBytes()));
  }
}
