package io.xenvbd.disk;

import java.io.IOException;
import java.io.UncheckedIOException;
import java.nio.file.DirectoryStream;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Set;

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
    return of(file, Set.of());
  }

  /**
   * As {@link #of(Path)}, leaving out the processes {@code but} (this agent's own copies of a clone
   * source, see {@link CloneCopies}). Where {@code but} has this JVM (it reads the file itself),
   * the processes it is starting are left out too: until one has executed its program it is this
   * JVM's child running the JVM's own binary or the JDK's jspawnhelper, holding a copy of the JVM's
   * descriptors that it closes before the exec (Java opens files without O_CLOEXEC). A fleet's
   * clone was refused for "process 10643 (jspawnhelper)" before this.
   */
  static List<String> of(Path file, Set<Long> but) {
    Path target = file.toAbsolutePath().normalize();
    List<String> holders = new ArrayList<>();
    boolean selfLeftOut = but.contains(SELF);
    try (DirectoryStream<Path> procs =
        Files.newDirectoryStream(PROC, p -> p.getFileName().toString().matches("\\d+"))) {
      for (Path proc : procs) {
        long pid = Long.parseLong(proc.getFileName().toString());
        if (but.contains(pid) || !holds(proc, target)) continue;
        if (selfLeftOut && startingFromThisJvm(proc, pid)) continue;
        holders.add(proc.getFileName() + " (" + command(proc) + ")");
      }
    } catch (IOException e) {
      throw Io.wrap(e, "listing the processes that hold " + file);
    }
    return holders;
  }

  private static final long SELF = ProcessHandle.current().pid();

  /** The programs a child of this JVM runs before it executes its own: the JVM, jspawnhelper. */
  private static final Set<Path> STARTING = starting();

  private static Set<Path> starting() {
    Set<Path> exes = new java.util.HashSet<>();
    try {
      exes.add(Path.of("/proc/self/exe").toRealPath());
    } catch (IOException ignored) {
      // no /proc: nothing is left out
    }
    Path helper = Path.of(System.getProperty("java.home"), "lib", "jspawnhelper");
    try {
      exes.add(helper.toRealPath());
    } catch (IOException ignored) {
      // a JDK without it (vfork or fork launch): its children run the JVM's binary until exec
    }
    return Set.copyOf(exes);
  }

  private static boolean startingFromThisJvm(Path proc, long pid) {
    boolean child =
        ProcessHandle.of(pid)
            .flatMap(ProcessHandle::parent)
            .map(p -> p.pid() == SELF)
            .orElse(false);
    if (!child) return false;
    try {
      return STARTING.contains(Files.readSymbolicLink(proc.resolve("exe")));
    } catch (IOException e) {
      return false; // ended meanwhile, or not readable: counted as the holder it was
    }
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

  private static String command(Path proc) {
    try {
      return Files.readString(proc.resolve("comm")).strip();
    } catch (IOException e) {
      return "?";
    }
  }
}
