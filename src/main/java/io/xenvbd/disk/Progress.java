package io.xenvbd.disk;

/**
 * Turns stage and byte counts into the listener's overall percent; each stage owns a slice of
 * 0..100. Synchronized: during a copy, reports also come from the copy-progress poller thread.
 */
final class Progress {
  private final ProgressListener listener;
  private String stage = "Create";
  private int from;
  private int to;

  Progress(ProgressListener listener) {
    this.listener = listener == null ? ProgressListener.NONE : listener;
  }

  synchronized void stage(String name, int fromPercent, int toPercent) {
    stage = name;
    from = fromPercent;
    to = toPercent;
    report(0, 0);
  }

  synchronized void bytes(long done, long total) {
    report(done, total);
  }

  void done() {
    stage("Publish", 100, 100);
  }

  private synchronized void report(long done, long total) {
    int pct = total <= 0 ? from : from + (int) ((to - from) * Math.min(1.0, (double) done / total));
    try {
      listener.onProgress(stage, done, total, pct);
    } catch (RuntimeException ignored) {
      // A listener's failure (say, a status update that could not be sent) must not break the
      // build.
    }
  }
}
