package io.xenvbd.disk;

import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.AccessDeniedException;
import java.nio.file.DirectoryStream;
import java.nio.file.Files;
import java.nio.file.NoSuchFileException;
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
   * clone was refused for "process 10643 (jspawnhelper)" before this, and, once the scan was
   * faster, for "process 32405 (stat)": seen holding as jspawnhelper, named once it was stat. So a
   * child of this JVM is asked again once its program is known, and one that is ending (its memory
   * gone, its inherited descriptors next) is left out too, as is any process that has ended by the
   * time it would be named.
   */
  static List<String> of(Path file, Set<Long> but) {
    Path target = file.toAbsolutePath().normalize();
    List<String> holders = new ArrayList<>();
    boolean selfLeftOut = but.contains(SELF);
    byte[] mapped = (" " + target + "\n").getBytes(StandardCharsets.UTF_8);
    try (DirectoryStream<Path> procs = Files.newDirectoryStream(PROC, Holders::isPid)) {
      for (Path proc : procs) {
        long pid = Long.parseLong(proc.getFileName().toString());
        if (but.contains(pid) || !holds(proc, target, mapped)) continue;
        // A child of this JVM may have closed the JVM's descriptors and executed its program since
        // it was seen holding the file: once its program is known not to be the JVM's, it is asked
        // again (a program never becomes the JVM's again; one that holds the file now is a holder).
        if (selfLeftOut
            && childOfThisJvm(pid)
            && (startingOrEnding(proc) || !holds(proc, target, mapped))) continue;
        String command = command(proc);
        if (command == null) continue; // it has ended since: it holds nothing now
        holders.add(proc.getFileName() + " (" + command + ")");
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

  private static boolean childOfThisJvm(long pid) {
    return ProcessHandle.of(pid)
        .flatMap(ProcessHandle::parent)
        .map(p -> p.pid() == SELF)
        .orElse(false);
  }

  /**
   * A child of this JVM that holds only what it inherited: still starting (the JVM's binary or
   * jspawnhelper) or ending (no program left: its memory is gone, its descriptors are next).
   */
  private static boolean startingOrEnding(Path proc) {
    try {
      return STARTING.contains(Files.readSymbolicLink(proc.resolve("exe")));
    } catch (NoSuchFileException e) {
      return true; // this JVM's own child: its exe is gone with its memory
    } catch (IOException e) {
      return false; // not readable: counted as the holder it was
    }
  }

  /** A directory of /proc named by a number. */
  private static boolean isPid(Path entry) {
    String name = entry.getFileName().toString();
    if (name.isEmpty()) return false;
    for (int i = 0; i < name.length(); i++) {
      if (name.charAt(i) < '0' || name.charAt(i) > '9') return false;
    }
    return true;
  }

  private static boolean holds(Path proc, Path target, byte[] mapped) {
    return hasOpen(proc, target) || hasMapped(proc, mapped);
  }

  /**
   * A file can stay in use after its descriptor is closed, mapped into the process's memory: a line
   * of /proc/PID/maps ends in its path ({@code mapped}: a space, the path, a newline). Searched as
   * bytes: the scan runs before every clone's copy and reads every process's maps, and decoding
   * them line by line was most of its own CPU.
   */
  private static boolean hasMapped(Path proc, byte[] mapped) {
    byte[] maps;
    try {
      maps = Files.readAllBytes(proc.resolve("maps"));
    } catch (IOException e) {
      return false; // the process ended, or its maps are not readable
    }
    return indexOf(maps, mapped) >= 0; // the kernel ends every line with one
  }

  private static int indexOf(byte[] in, byte[] what) {
    outer:
    for (int i = 0, last = in.length - what.length; i <= last; i++) {
      if (in[i] != what[0]) continue;
      for (int j = 1; j < what.length; j++) {
        if (in[i + j] != what[j]) continue outer;
      }
      return i;
    }
    return -1;
  }

  private static boolean hasOpen(Path proc, Path target) {
    try (DirectoryStream<Path> fds = Files.newDirectoryStream(proc.resolve("fd"))) {
      for (Path fd : fds) {
        try {
          if (Files.readSymbolicLink(fd).equals(target)) return true;
        } catch (AccessDeniedException e) {
          // Refused for one descriptor, refused for all: the permission is the process's (a
          // container's init seen from inside), and its maps are refused alike. Such a process
          // is not seen at all: the agent runs with CAP_SYS_PTRACE, so on a dom0 none is.
          return false;
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
   * The process's command name (any bytes: a process names itself, and a cut may split a
   * character); null once it has ended (a zombie still has one).
   */
  private static String command(Path proc) {
    try {
      return new String(Files.readAllBytes(proc.resolve("comm")), StandardCharsets.UTF_8).strip();
    } catch (NoSuchFileException e) {
      return null;
    } catch (IOException e) {
      return "?";
    }
  }
}
