package io.xenvbd.disk;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.catchThrowableOfType;

import io.xenvbd.api.Populate;
import io.xenvbd.api.Tailor;
import io.xenvbd.api.VirtualDiskSpec;
import io.xenvbd.api.VirtualDiskSpec.Filesystem;
import java.util.List;
import org.junit.jupiter.api.Test;

class DiskRequestTest {
  static VirtualDiskSpec spec(String size, String hostname) {
    return new VirtualDiskSpec(
        "node-a",
        size,
        Filesystem.ext4,
        new Populate(null, null, null, List.of("/proc"), null),
        new Tailor(hostname, null, null),
        null,
        null,
        null);
  }

  @Test
  void sizeIsParsedAndBadInputIsInvalidRequest() {
    assertThat(DiskRequest.of("default", "vm1", "u-1", spec("2Gi", "a")).sizeBytes())
        .isEqualTo(2L << 30);
    assertThat(
            catchThrowableOfType(
                    () -> DiskRequest.of("default", "vm1", "u-1", spec("two", "a")),
                    DiskException.class)
                .code())
        .isEqualTo(ErrorCode.InvalidRequest);
    assertThat(
            catchThrowableOfType(
                    () -> DiskRequest.of("Default", "vm1", "u-1", spec("1Gi", "a")),
                    DiskException.class)
                .getMessage())
        .contains("DNS-1123");
    assertThat(
            catchThrowableOfType(
                    () -> DiskRequest.of("default", "vm1", "", spec("1Gi", "a")),
                    DiskException.class)
                .getMessage())
        .contains("uid");
  }

  @Test
  void theDigestIgnoresSizeAndPlacementButNotContent() {
    String a = DiskRequest.of("default", "vm1", "u", spec("1Gi", "a")).specDigest();
    assertThat(DiskRequest.of("default", "vm1", "u", spec("2Gi", "a")).specDigest()).isEqualTo(a);
    assertThat(DiskRequest.of("default", "vm1", "u", spec("1Gi", "b")).specDigest())
        .isNotEqualTo(a);
    assertThat(a).hasSize(64);
  }
}
