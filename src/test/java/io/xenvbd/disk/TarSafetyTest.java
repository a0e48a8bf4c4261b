package io.xenvbd.disk;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.catchThrowableOfType;

import java.io.ByteArrayInputStream;
import java.io.ByteArrayOutputStream;
import java.io.IOException;
import org.apache.commons.compress.archivers.tar.TarArchiveEntry;
import org.apache.commons.compress.archivers.tar.TarArchiveOutputStream;
import org.junit.jupiter.api.Test;

class TarSafetyTest {
  static byte[] tar(TarArchiveEntry... entries) throws IOException {
    ByteArrayOutputStream bytes = new ByteArrayOutputStream();
    try (TarArchiveOutputStream out = new TarArchiveOutputStream(bytes)) {
      for (TarArchiveEntry e : entries) {
        out.putArchiveEntry(e);
        out.closeArchiveEntry();
      }
    }
    return bytes.toByteArray();
  }

  static TarArchiveEntry link(String name, String target, byte type) {
    TarArchiveEntry e = new TarArchiveEntry(name, type, true);
    e.setLinkName(target);
    return e;
  }

  static String refusal(byte[] tar) {
    DiskException e = catchThrowableOfType(() -> TarSafety.check(new ByteArrayInputStream(tar), Long.MAX_VALUE), DiskException.class);
    assertThat(e).isNotNull();
    assertThat(e.code()).isEqualTo(ErrorCode.InvalidRequest);
    return e.getMessage();
  }

  @Test
  void ordinaryEntriesAndInwardLinksPass() throws IOException {
    assertThat(TarSafety.check(new ByteArrayInputStream(tar(new TarArchiveEntry("./etc/", true),
        new TarArchiveEntry("etc/passwd", true), link("bin/sh", "dash", TarArchiveEntry.LF_SYMLINK),
        link("usr/lib/x", "../../lib/x", TarArchiveEntry.LF_SYMLINK), link("etc/localtime", "/usr/share/zoneinfo/UTC",
            TarArchiveEntry.LF_SYMLINK), link("bin/sh2", "bin/sh", TarArchiveEntry.LF_LINK))), Long.MAX_VALUE)).isZero();
  }

  @Test
  void slipsAreRefused() throws IOException {
    assertThat(refusal(tar(new TarArchiveEntry("/etc/passwd", true)))).contains("absolute");
    assertThat(refusal(tar(new TarArchiveEntry("a/../../x", true)))).contains("'..'");
    assertThat(refusal(tar(link("usr/lib/x", "../../../etc", TarArchiveEntry.LF_SYMLINK)))).contains("outside");
    assertThat(refusal(tar(link("x", "sub", TarArchiveEntry.LF_SYMLINK), new TarArchiveEntry("x/y", true))))
        .contains("under the symbolic link");
    assertThat(refusal(tar(link("x", "sub", TarArchiveEntry.LF_SYMLINK), new TarArchiveEntry("x", true))))
        .contains("replaces");
    assertThat(refusal(tar(link("h", "../outside", TarArchiveEntry.LF_LINK)))).contains("'..'");
  }

  @Test
  void mountinfoEscapesAreDecoded() {
    assertThat(MountTable.unescape("/tmp/with\\040space")).isEqualTo("/tmp/with space");
    assertThat(MountTable.unescape("/plain")).isEqualTo("/plain");
  }
}
