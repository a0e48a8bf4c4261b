package io.xenvbd.disk;

import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.SerializationFeature;
import com.fasterxml.jackson.databind.json.JsonMapper;
import com.fasterxml.jackson.datatype.jsr310.JavaTimeModule;
import java.io.FileNotFoundException;
import java.io.IOException;
import java.nio.channels.FileChannel;
import java.nio.file.Files;
import java.nio.file.NoSuchFileException;
import java.nio.file.Path;
import java.nio.file.StandardCopyOption;
import java.nio.file.StandardOpenOption;
import java.util.Optional;

/**
 * Makes a finished image visible atomically. Order matters for crash safety: the metadata is
 * renamed into place first, then the image. A crash in between leaves metadata without an image,
 * which recover() treats as a leftover; an image is never visible before its owner is recorded.
 */
final class Publisher {
  private static final ObjectMapper JSON =
      JsonMapper.builder()
          .addModule(new JavaTimeModule())
          .disable(SerializationFeature.WRITE_DATES_AS_TIMESTAMPS)
          .enable(SerializationFeature.INDENT_OUTPUT)
          .build();

  private final ImagePaths paths;

  Publisher(ImagePaths paths) {
    this.paths = paths;
  }

  void publish(Path tempImage, Path image, Path metaPath, ImageMetadata meta) {
    fsync(tempImage);
    writeMetadata(metaPath, meta);
    move(tempImage, image);
    fsyncDir(image.getParent());
  }

  /** Writes metadata to a temporary file, syncs it, and renames it over the old one. */
  void writeMetadata(Path metaPath, ImageMetadata meta) {
    Path tmp = paths.tempBeside(metaPath);
    try {
      Files.write(
          tmp,
          JSON.writeValueAsBytes(meta),
          StandardOpenOption.CREATE_NEW,
          StandardOpenOption.WRITE);
      Formatter.privateFile(tmp);
      fsync(tmp);
      move(tmp, metaPath);
      fsyncDir(metaPath.getParent());
    } catch (IOException e) {
      throw Io.wrap(e, "writing metadata " + metaPath);
    } finally {
      try {
        Files.deleteIfExists(tmp);
      } catch (IOException ignored) {
        // recover() removes it
      }
    }
  }

  Optional<ImageMetadata> readMetadata(Path metaPath) {
    try {
      return Optional.of(JSON.readValue(metaPath.toFile(), ImageMetadata.class));
    } catch (NoSuchFileException | FileNotFoundException e) {
      return Optional.empty();
    } catch (IOException e) {
      return Optional
          .empty(); // unreadable metadata: the image is reported as an orphan, never guessed at
    }
  }

  private static void move(Path from, Path to) {
    try {
      Files.move(from, to, StandardCopyOption.ATOMIC_MOVE, StandardCopyOption.REPLACE_EXISTING);
    } catch (IOException e) {
      throw Io.wrap(e, "renaming " + from + " to " + to);
    }
  }

  static void fsync(Path file) {
    try (FileChannel ch = FileChannel.open(file, StandardOpenOption.WRITE)) {
      ch.force(true);
    } catch (IOException e) {
      throw Io.wrap(e, "syncing " + file);
    }
  }

  /** A rename is durable only once its directory is synced. */
  static void fsyncDir(Path dir) {
    try (FileChannel ch = FileChannel.open(dir, StandardOpenOption.READ)) {
      ch.force(true);
    } catch (IOException e) {
      throw Io.wrap(e, "syncing directory " + dir);
    }
  }
}
