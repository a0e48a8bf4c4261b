package io.xenvbd.disk;

import io.xenvbd.api.LoopDevices;
import java.io.IOException;
import java.nio.file.DirectoryStream;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Comparator;
import java.util.List;

/** Reads the kernel's loop devices from sysfs: the limit and which devices hold which file. */
public final class LoopDeviceTable {
  private final Path sys;

  public LoopDeviceTable() {
    this(Path.of("/sys"));
  }

  LoopDeviceTable(Path sys) {
    this.sys = sys;
  }

  /** {@code max_loop}; 0 means the kernel creates devices on demand (unlimited). */
  public int max() {
    try {
      return Integer.parseInt(
          Files.readString(sys.resolve("module/loop/parameters/max_loop")).trim());
    } catch (IOException | NumberFormatException e) {
      return 0; // loop built in without the parameter: devices come from /dev/loop-control on
      // demand
    }
  }

  /**
   * Devices attached to a file, with the file (a " (deleted)" suffix means the file was removed).
   */
  public List<LoopDevices.Device> inUse() {
    List<LoopDevices.Device> list = new ArrayList<>();
    try (DirectoryStream<Path> ds = Files.newDirectoryStream(sys.resolve("block"), "loop*")) {
      for (Path dev : ds) {
        Path backing = dev.resolve("loop/backing_file");
        try {
          String file = Files.readString(backing).strip();
          if (!file.isEmpty()) list.add(new LoopDevices.Device(dev.getFileName().toString(), file));
        } catch (IOException ignored) {
          // No backing_file: the device is free (or vanished between listing and reading).
        }
      }
    } catch (IOException e) {
      return List.of();
    }
    list.sort(Comparator.comparing(LoopDevices.Device::name));
    return list;
  }

  public LoopStatus status() {
    return new LoopStatus(max(), inUse());
  }

  /** Loop devices whose backing file is {@code file} (or lies under it, when it is a directory). */
  public List<String> devicesBackedBy(Path file) {
    Path f = file.toAbsolutePath().normalize();
    return inUse().stream()
        .filter(d -> backingPath(d).startsWith(f))
        .map(d -> "/dev/" + d.name())
        .toList();
  }

  static Path backingPath(LoopDevices.Device d) {
    String s = d.backingFile();
    if (s.endsWith(" (deleted)")) s = s.substring(0, s.length() - " (deleted)".length());
    return Path.of(s);
  }
}
