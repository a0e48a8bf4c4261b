package io.xenvbd.agent;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import io.xenvbd.api.VirtualDiskSpec;
import io.xenvbd.disk.DiskEngine;
import io.xenvbd.disk.DiskRequest;
import io.xenvbd.disk.EngineConfig;
import io.xenvbd.disk.ProgressListener;
import io.xenvbd.protocol.ErrorCodes;
import io.xenvbd.protocol.TransferTicket;
import io.xenvbd.testing.RequiresRoot;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.List;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * The source side's tickets with a real engine and a real image: expiry, single use, and who may
 * have one.
 */
@RequiresRoot
class TransfersTest {
  @TempDir Path dir;

  @Test
  void anExpiredTicketIsRefusedAndAnImageOfAnotherOwnerGetsNone() throws Exception {
    Path root = Files.createDirectories(dir.resolve("images"));
    try (DiskEngine engine = new DiskEngine(EngineConfig.defaults(root, List.of()))) {
      engine.recover();
      engine.build(
          DiskRequest.of(
              "ns1",
              "base",
              "uid-base",
              new VirtualDiskSpec(
                  null, "8Mi", VirtualDiskSpec.Filesystem.ext4, null, null, null, null, null)),
          ProgressListener.NONE);
      try (Transfers transfers = new Transfers(engine, Duration.ofMillis(200))) {
        TransferTicket ticket =
            transfers.issue(new TransferTicket.Request("ns1", "base", "uid-base"));
        assertThat(ticket.ticket()).matches("[A-Za-z0-9_-]{43}");
        assertThat(ticket.sizeBytes()).isEqualTo(8L << 20);
        Thread.sleep(400);
        assertThatThrownBy(() -> transfers.take(ticket.ticket()))
            .isInstanceOfSatisfying(
                ApiError.class,
                e -> {
                  assertThat(e.status).isEqualTo(401);
                  assertThat(e.body().code()).isEqualTo(ErrorCodes.UNAUTHORIZED);
                });
        assertThatThrownBy(
                () -> transfers.issue(new TransferTicket.Request("ns1", "base", "uid-other")))
            .isInstanceOfSatisfying(ApiError.class, e -> assertThat(e.status).isEqualTo(404));
        assertThatThrownBy(
                () -> transfers.issue(new TransferTicket.Request("ns1", "missing", "uid-base")))
            .isInstanceOfSatisfying(ApiError.class, e -> assertThat(e.status).isEqualTo(404));
        assertThatThrownBy(
                () -> transfers.issue(new TransferTicket.Request("ns1", "../x", "uid-base")))
            .isInstanceOfSatisfying(ApiError.class, e -> assertThat(e.status).isEqualTo(400));
      }
      try (Transfers transfers = new Transfers(engine)) {
        TransferTicket ticket =
            transfers.issue(new TransferTicket.Request("ns1", "base", "uid-base"));
        assertThat(transfers.take(ticket.ticket()))
            .isNotNull(); // opens a session: the image's lock is held
        assertThatThrownBy(() -> transfers.take(ticket.ticket()))
            .isInstanceOfSatisfying(ApiError.class, e -> assertThat(e.status).isEqualTo(401));
        assertThatThrownBy(() -> engine.delete("ns1", "base", "uid-base"))
            .hasMessageContaining("working on disk ns1/base");
      }
      // closing the transfers released the lock of the source: the image can still be deleted
      engine.delete("ns1", "base", "uid-base");
    }
  }
}
