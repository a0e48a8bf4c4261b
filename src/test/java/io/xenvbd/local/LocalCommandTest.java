package io.xenvbd.local;

import static org.assertj.core.api.Assertions.assertThat;

import io.xenvbd.disk.UrlPolicy;
import java.io.PrintWriter;
import java.io.StringWriter;
import java.nio.file.Path;
import java.util.List;
import org.junit.jupiter.api.Test;
import picocli.CommandLine;

/** Local mode's archive-URL flags: none allowed by default, the same two flags as the agent's. */
class LocalCommandTest {
  @Test
  void archiveUrlFlagsReachTheLocalAgentsConfig() {
    LocalCommand command = new LocalCommand();
    new CommandLine(command)
        .parseArgs(
            "--allow-url", "http://127.0.0.1:8000/images/", "--allow-private-host", "127.0.0.1");
    LocalConfig config =
        new LocalConfig(Path.of("state"), List.of(), 0, "node", command.urls.policy());
    assertThat(config.urls())
        .isEqualTo(new UrlPolicy(List.of("http://127.0.0.1:8000/images/"), List.of("127.0.0.1")));
    assertThat(new LocalConfig(Path.of("state"), List.of(), 0, "node").urls())
        .isEqualTo(UrlPolicy.none());
  }

  @Test
  void helpNamesBothFlagsAndTheirEnvironmentTwins() {
    StringWriter out = new StringWriter();
    new CommandLine(new LocalCommand()).setOut(new PrintWriter(out)).execute("--help");
    assertThat(out.toString())
        .contains(
            "--allow-url",
            "XENVBD_ALLOW_URLS",
            "--allow-private-host",
            "XENVBD_ALLOW_PRIVATE_HOSTS",
            "Default: none");
  }
}
