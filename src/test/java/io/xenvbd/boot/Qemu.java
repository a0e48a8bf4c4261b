package io.xenvbd.boot;

import java.io.File;
import java.io.IOException;
import java.io.UncheckedIOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.List;
import java.util.concurrent.TimeUnit;
import java.util.regex.Pattern;

/**
 * Boots a whole-disk filesystem image (no partition table, as Xen's {@code vdev=xvda1} style uses)
 * as the only disk of a QEMU guest: TCG, because KVM hangs in the guest kernel's early boot on this
 * kind of machine (nested virtualisation); virtio, so the disk is {@code /dev/vda}; no network; the
 * serial console on stdout, kept in a file so that a guest that hangs still leaves its log. {@code
 * -no-reboot} with {@code panic=-1}: a guest whose init dies ends QEMU instead of rebooting. {@code
 * no_timer_check}: on a loaded host, TCG delivers the timer too late for the kernel's IO-APIC timer
 * check, which then panics ("IO-APIC + timer doesn't work!"); virtual machines skip that check.
 * {@code loglevel=4}: only the kernel's warnings and errors share the console with the lines the
 * guest writes, so that fewer of its messages land inside one of them.
 */
final class Qemu {
  /** A kernel log line's start: its timestamp in brackets. */
  static final Pattern KERNEL_MESSAGE = Pattern.compile("\\[\\s*\\d+\\.\\d+\\].*$");

  private Qemu() {}

  record Boot(String console, boolean finished, int exitCode, Duration took) {
    /** What follows {@code prefix} on each console line that holds it. */
    List<String> lines(String prefix) {
      return console
          .lines()
          .map(l -> l.replace("\r", ""))
          // the firmware's and the kernel's own output share the serial console: a line the guest
          // writes may follow theirs on one line ("Probing EDD ... XENVBD-INITRAMFS found ...") or
          // have a kernel message appended ("... at /dev/vda[    2.125929] tsc: ..."): take what
          // follows the prefix, and cut off a kernel message
          .filter(l -> l.contains(prefix))
          .map(
              l ->
                  KERNEL_MESSAGE
                      .matcher(l.substring(l.indexOf(prefix) + prefix.length()))
                      .replaceFirst(""))
          .toList();
    }

    String describe() {
      return (finished ? "QEMU exited " + exitCode : "the guest did not power off")
          + " after "
          + took.toSeconds()
          + " s; serial console:\n"
          + console;
    }
  }

  /**
   * Boots {@code image} (attached read-write: pass a copy) with {@code kernelArgs} after the
   * console's, and waits at most {@code timeout} for the guest to power off; the console is also in
   * {@code log}.
   */
  static Boot boot(GuestKernel kernel, Path image, String kernelArgs, Path log, Duration timeout) {
    List<String> command =
        List.of(
            "qemu-system-x86_64",
            "-machine",
            "accel=tcg",
            "-m",
            "256",
            "-nographic",
            "-serial",
            "stdio",
            "-monitor",
            "none",
            "-no-reboot",
            "-nic",
            "none",
            "-kernel",
            kernel.vmlinuz().toString(),
            "-initrd",
            kernel.initramfs().toString(),
            "-append",
            "console=ttyS0 panic=-1 no_timer_check loglevel=4 " + kernelArgs,
            "-drive",
            "file=" + image + ",format=raw,if=virtio");
    long start = System.nanoTime();
    try {
      Process p =
          new ProcessBuilder(command)
              .redirectErrorStream(true)
              .redirectOutput(log.toFile())
              .redirectInput(ProcessBuilder.Redirect.from(new File("/dev/null")))
              .start();
      boolean finished;
      try {
        finished = p.waitFor(timeout.toMillis(), TimeUnit.MILLISECONDS);
      } finally {
        if (p.isAlive()) {
          p.destroyForcibly();
          p.waitFor(30, TimeUnit.SECONDS);
        }
      }
      Duration took = Duration.ofNanos(System.nanoTime() - start);
      return new Boot(
          Files.readString(log, StandardCharsets.ISO_8859_1),
          finished,
          finished ? p.exitValue() : -1,
          took);
    } catch (IOException e) {
      throw new UncheckedIOException("cannot run " + String.join(" ", command), e);
    } catch (InterruptedException e) {
      Thread.currentThread().interrupt();
      throw new IllegalStateException("interrupted while booting " + image, e);
    }
  }
}
