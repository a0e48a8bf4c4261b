package io.xenvbd.disk;

import static org.assertj.core.api.Assertions.assertThat;

import io.xenvbd.api.Xen;
import java.nio.file.Path;
import org.junit.jupiter.api.Test;

class XenEntriesTest {
  final Path image = Path.of("/var/lib/xen/images/default/vm1disk.img");

  @Test
  void theDefaultsGiveTheCurrentAndTheRecipesForms() {
    assertThat(DiskEngine.xenDisk(image, new Xen(null, null, null)))
        .isEqualTo("format=raw, vdev=xvda1, access=rw, target=/var/lib/xen/images/default/vm1disk.img");
    assertThat(DiskEngine.xenLegacyDisk(image, new Xen("sda1", null, null)))
        .isEqualTo("file:/var/lib/xen/images/default/vm1disk.img,sda1,w");
  }

  @Test
  void readOnlyAndABackendTypeComeBeforeTheTarget() {
    assertThat(DiskEngine.xenDisk(image, new Xen("xvdb", Xen.Access.ro, Xen.BackendType.phy)))
        .isEqualTo("format=raw, vdev=xvdb, access=ro, backendtype=phy, target=/var/lib/xen/images/default/vm1disk.img");
    assertThat(DiskEngine.xenLegacyDisk(image, new Xen("xvdb", Xen.Access.ro, Xen.BackendType.phy)))
        .isEqualTo("phy:/var/lib/xen/images/default/vm1disk.img,xvdb,r");
    assertThat(DiskEngine.xenLegacyDisk(image, new Xen(null, null, Xen.BackendType.qdisk))).isNull();
  }

  @Test
  void aPathWithACommaOrColonHasOnlyTheKeywordForm() {
    Path odd = Path.of("/srv/xen,images/a:b.img");
    assertThat(DiskEngine.xenLegacyDisk(odd, null)).isNull();
    assertThat(DiskEngine.xenDisk(odd, null)).endsWith(", target=/srv/xen,images/a:b.img");
  }
}
