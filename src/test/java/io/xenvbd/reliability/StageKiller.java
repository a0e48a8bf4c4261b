package io.xenvbd.reliability;

import io.xenvbd.client.HttpAgentClient;
import io.xenvbd.protocol.DiskState;
import java.net.URI;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicReference;
import java.util.function.BooleanSupplier;

/**
 * Watches a build as closely as the host allows (the agent's reported stage, the tools its JVM
 * runs, the files of the publish) and SIGKILLs the agent once the build is in the stage asked for.
 */
final class StageKiller {
  private final AgentProcess agent;
  private final Rig rig;
  private final Path root;

  StageKiller(AgentProcess agent, Rig rig, Path root) {
    this.agent = agent;
    this.rig = rig;
    this.root = root;
  }

  static boolean metadataBeingWritten(Path nsDir, String name) {
    String[] names = nsDir.toFile().list();
    if (names == null) return false;
    for (String n : names) if (n.startsWith("." + name + ".img.json.tmp")) return true;
    return false;
  }

  /** What was seen at the kill, or null when the build finished before the stage was seen. */
  String killWhenIn(String stage, String name, BooleanSupplier createReached) throws Exception {
    HttpAgentClient client =
        new HttpAgentClient(
            URI.create("https://127.0.0.1:" + agent.port),
            rig.token,
            rig.clientSsl,
            Duration.ofSeconds(5));
    AtomicReference<String> lastStage = new AtomicReference<>("");
    Thread poller =
        new Thread(
            () -> {
              while (!Thread.currentThread().isInterrupted()) {
                try {
                  lastStage.set(client.getDisk("default", name).map(DiskState::stage).orElse(""));
                } catch (RuntimeException e) {
                  return; // killed
                }
              }
            },
            "stage-poller");
    poller.setDaemon(true);
    poller.start();
    Path nsDir = root.resolve("default");
    long deadline = System.nanoTime() + TimeUnit.SECONDS.toNanos(120);
    try {
      while (System.nanoTime() < deadline) {
        if (!agent.alive()) throw new AssertionError("the agent died by itself:\n" + agent.tail());
        String seen = lastStage.get();
        boolean hit =
            switch (stage) {
              case "Create" -> createReached.getAsBoolean();
              case "Publish" ->
                  seen.equals("Publish") || Files.exists(nsDir.resolve(name + ".img.json"));
              case "Check" -> seen.equals("Check") || agent.runningTools().contains("e2fsck");
              // the umount ends the Tailor stage of a LoopMount build (tailoring runs no tool)
              case "Tailor" -> seen.equals("Tailor") || agent.runningTools().contains("umount");
              case "Format" ->
                  seen.equals("Format")
                      || agent.runningTools().stream()
                          .anyMatch(t -> t.startsWith("mke2fs") || t.startsWith("mkfs"));
              default -> seen.equals(stage);
            };
        if (stage.equals("Publish") && metadataBeingWritten(nsDir, name)) {
          agent.killJvmNow(); // the window is a few fsyncs: no /proc scan before this kill
          return "stage Publish (metadata being written), tools " + agent.kill9();
        }
        if (hit) {
          if (stage.equals("Publish")) agent.killJvmNow();
          return "stage " + (seen.isEmpty() ? "?" : seen) + ", tools " + agent.kill9();
        }
        if (Files.exists(nsDir.resolve(name + ".img")))
          return null; // finished before the stage was seen
        Thread.onSpinWait();
      }
      throw new AssertionError(
          "the build never reached " + stage + " within 120s; agent log:\n" + agent.tail());
    } finally {
      poller.interrupt();
    }
  }
}
