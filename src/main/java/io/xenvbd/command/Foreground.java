package io.xenvbd.command;

import java.util.concurrent.CountDownLatch;

/**
 * How every role runs in the foreground: {@link #onStop} registers what stopping means (SIGTERM,
 * Ctrl-C: it runs on the JVM's shutdown thread), {@link #await} blocks the main thread until then.
 */
public final class Foreground {
  private final CountDownLatch stopped = new CountDownLatch(1);

  private Foreground() {}

  public static Foreground onStop(String threadName, Runnable stop) {
    Foreground f = new Foreground();
    Runtime.getRuntime()
        .addShutdownHook(
            new Thread(
                () -> {
                  try {
                    stop.run();
                  } finally {
                    f.stopped.countDown();
                  }
                },
                threadName));
    return f;
  }

  public void await() throws InterruptedException {
    stopped.await();
  }
}
