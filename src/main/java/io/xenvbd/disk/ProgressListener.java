package io.xenvbd.disk;

/** Progress of a build or grow. */
@FunctionalInterface
public interface ProgressListener {
  /** stage: Create, Format, Populate, Tailor, Check, Publish, Resize; percent of the whole operation 0..100. */
  void onProgress(String stage, long bytesDone, long bytesTotal, int percent);

  ProgressListener NONE = (s, d, t, p) -> {};
}
