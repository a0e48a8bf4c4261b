package io.xenvbd.api;

import io.xenvbd.api.VirtualDiskSpec.Filesystem;

/**
 * What building a spec's image takes, decided from the spec alone, so that the operator can refuse
 * a node before the agent fails on it. It follows the disk engine's ImageBuilder: content (an
 * archive, hostPaths, createDirs or tailored files) is written through a loop mount unless the
 * build is Offline (for a clone, Offline writes createDirs and tailored files with debugfs; an
 * archive or hostPaths on top of a clone are still mounted); a clone grown to xfs is grown mounted.
 */
public final class BuildPlan {
  private BuildPlan() {}

  /** Auto: Offline (mke2fs -d, no loop device) for ext2/3/4, LoopMount otherwise. */
  public static boolean offline(Filesystem fs, Populate.Method method) {
    boolean ext = fs == Filesystem.ext2 || fs == Filesystem.ext3 || fs == Filesystem.ext4;
    return switch (method == null ? Populate.Method.Auto : method) {
      case Auto -> ext;
      case LoopMount -> false;
      case Offline -> true;
    };
  }

  /**
   * Whether the build attaches a loop device.
   *
   * @param cloneGrows the spec clones a disk smaller than spec.size (the copy is grown before use)
   */
  public static boolean needsLoopDevice(VirtualDiskSpec spec, boolean cloneGrows) {
    if (spec.filesystem() == Filesystem.none) return false;
    Populate pop = spec.populate();
    boolean clone = pop != null && pop.cloneFrom() != null;
    if (clone && cloneGrows && spec.filesystem() == Filesystem.xfs) return true;
    if (!hasContent(spec)) return false;
    // A clone's createDirs and tailored files go into an ext* image with debugfs, no mount;
    // copied-in content is mounted.
    boolean copiedIn = pop != null && (pop.archive() != null || !pop.hostPaths().isEmpty());
    return (clone && copiedIn) || !offline(spec.filesystem(), pop == null ? null : pop.method());
  }

  private static boolean hasContent(VirtualDiskSpec spec) {
    Populate pop = spec.populate();
    Tailor t = spec.tailor();
    boolean tailored =
        t != null
            && ((t.hostname() != null && !t.hostname().isEmpty())
                || !t.fstab().isEmpty()
                || !t.files().isEmpty());
    return tailored
        || pop != null
            && (pop.archive() != null || !pop.hostPaths().isEmpty() || !pop.createDirs().isEmpty());
  }
}
