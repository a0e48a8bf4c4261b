package io.xenvbd.disk;

import java.io.IOException;
import java.nio.file.DirectoryStream;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;

/**
 * Lists what lies under the images root (images, orphans, leftovers) and removes leftovers at
 * startup.
 */
final class Housekeeping {
  record Listing(List<Path> images, List<Path> leftovers, List<Path> parked) {}

  private final ImagePaths paths;
  private final CommandRunner runner;
  private final LoopMounter mounter;
  private final Path importDir;

  Housekeeping(ImagePaths paths, CommandRunner runner, LoopMounter mounter, Path importDir) {
    this.importDir = importDir;
    this.paths = paths;
    this.runner = runner;
    this.mounter = mounter;
  }

  /**
   * Image files ({@code <root>/<ns>/<name>.img}) and temporary leftovers, including metadata
   * without an image.
   */
  Listing list() {
    List<Path> images = new ArrayList<>();
    List<Path> leftovers = new ArrayList<>();
    List<Path> parked = new ArrayList<>();
    Path root = paths.root();
    if (!Files.isDirectory(root)) return new Listing(images, leftovers, parked);
    for (Path top : children(root)) {
      String n = top.getFileName().toString();
      if (n.startsWith(ImagePaths.PARKED_PREFIX)) {
        parked.add(top);
      } else if (ImagePaths.isTempName(n)) {
        leftovers.add(top);
      } else if (Files.isDirectory(top) && !Files.isSymbolicLink(top)) {
        for (Path f : children(top)) {
          String fn = f.getFileName().toString();
          if (ImagePaths.isTempName(fn)) leftovers.add(f);
          else if (fn.endsWith(ImagePaths.IMAGE_SUFFIX) && Files.isRegularFile(f)) images.add(f);
          else if (fn.endsWith(ImagePaths.META_SUFFIX)
              && !Files.exists(f.resolveSibling(fn.substring(0, fn.length() - ".json".length())))) {
            leftovers.add(f); // metadata renamed into place, crash before the image was
          }
        }
      }
    }
    images.sort(null);
    leftovers.sort(null);
    return new Listing(images, leftovers, parked);
  }

  /** Unmounts and detaches whatever is still open on a leftover, then deletes it. */
  List<Path> recover() {
    List<Path> cleaned = new ArrayList<>();
    // import files an interrupted adoption took go back where the admin put them
    for (Path p : list().parked()) {
      String file = p.getFileName().toString().substring(ImagePaths.PARKED_PREFIX.length());
      if (importDir != null && !file.isEmpty()) ImportFiles.putBack(p, importDir.resolve(file));
    }
    for (Path p : list().leftovers()) {
      mounter.release(p, p);
      CommandRunner.Result r =
          runner.exec(
              List.of("rm", "-rf", "--one-file-system", paths.under(p).toString()),
              Duration.ofMinutes(10),
              null);
      if (r.ok() && !Files.exists(p)) cleaned.add(p);
    }
    return cleaned;
  }

  private static List<Path> children(Path dir) {
    List<Path> list = new ArrayList<>();
    try (DirectoryStream<Path> ds = Files.newDirectoryStream(dir)) {
      ds.forEach(list::add);
    } catch (IOException e) {
      // unreadable directory: nothing to list
    }
    return list;
  }
}
