package io.xenvbd.disk;

import java.io.IOException;
import java.io.UncheckedIOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.DirectoryStream;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;

/**
 * The processes that hold a file open or mapped, read from /proc/PID/fd and /proc/PID/maps. A guest
 * on the qdisk or tap backend opens its image from a QEMU or tapdisk process and takes no loop
 * device, so "attached to a loop device" alone would call its disk free.
 */
final class Holders {
  private static final Path PROC = Path.of("/proc");

  private Holders() {}

  /** "PID (command)" of every process with {@code file} open; empty when none. */
  static List<String> of(Path file) {
    return of(file, false);
  }

  /**
   * As {@link #of(Path)}; with {@code butOwnCloneCopies}, leaving out this agent's own copies of
   * {@code file} into a clone ({@link Cloner}'s {@code cp ... file TEMP}, children of this
   * process): they only read it, so two clones of one template may copy it at once, while a guest,
   * a grow or anything else that has it open still counts.
   */
  static List<String> of(Path file, boolean butOwnCloneCopies) {
    Path target = file.toAbsolutePath().normalize();
    List<String> holders = new ArrayList<>();
    try (DirectoryStream<Path> procs =
        Files.newDirectoryStream(PROC, p -> p.getFileName().toString().matches("\\d+"))) {
      for (Path proc : procs) {
        if (holds(proc, target) && !(butOwnCloneCopies && ownCloneCopy(proc, target)))
          holders.add(proc.getFileName() + " (" + command(proc) + ")");
      }
    } catch (IOException e) {
      throw Io.wrap(e, "listing the processes that hold " + file);
    }
    return holders;
  }

  private static boolean holds(Path proc, Path target) {
    return hasOpen(proc, target) || hasMapped(proc, target);
  }

  /** A file can stay in use after its descriptor is closed, mapped into the process's memory. */
  private static boolean hasMapped(Path proc, Path target) {
    String suffix = " " + target;
    try (var lines = Files.lines(proc.resolve("maps"))) {
      return lines.anyMatch(l -> l.endsWith(suffix));
    } catch (IOException | UncheckedIOException e) {
      return false; // the process ended, or its maps are not readable
    }
  }

  private static boolean hasOpen(Path proc, Path target) {
    try (DirectoryStream<Path> fds = Files.newDirectoryStream(proc.resolve("fd"))) {
      for (Path fd : fds) {
        try {
          if (Files.readSymbolicLink(fd).equals(target)) return true;
        } catch (IOException ignored) {
          // closed meanwhile
        }
      }
    } catch (IOException ignored) {
      // the process ended, or is a kernel thread
    }
    return false;
  }

  /**
   * A child of this process whose command line is Cloner's cp with {@code source} as its source.
   */
  private static boolean ownCloneCopy(Path proc, Path source) {
    long pid = Long.parseLong(proc.getFileName().toString());
    boolean child =
        ProcessHandle.of(pid)
            .flatMap(ProcessHandle::parent)
            .map(p -> p.pid() == ProcessHandle.current().pid())
            .orElse(false);
    if (!child) return false;
    try {
      String[] args =
          new String(Files.readAllBytes(proc.resolve("cmdline")), StandardCharsets.UTF_8)
              .split("\0");
      return args.length >= 4
          && args[0].equals("cp")
          && args[args.length - 2].equals(source.toString())
          && Cloner.isCopyOptions(List.of(args).subList(1, args.length - 2));
    } catch (IOException e) {
      return false; // it ended meanwhile
    }
  }

  private static String command(Path proc) {
    try {
      return Files.readString(proc.resolve("comm")).strip();
    } catch (IOException e) {
      return "?";
    }
  }
}
