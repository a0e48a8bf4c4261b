package io.xenvbd.disk;

/**
 * Progress of a build or grow. Called on the building thread, and while a copy runs also from a
 * poller thread (one at a time).
 */
@FunctionalInterface
public interface ProgressListener {
  /**
   * stage: Create, Format, Populate, Tailor, Check, Publish, Resize; percent of the whole operation
   * 0..100.
   */
  void onProgress(String stage, long bytesDone, long bytesTotal, int percent);

  ProgressListener NONE = (s, d, t, p) -> {};
}
