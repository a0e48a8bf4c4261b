package io.xenvbd.api;

import static org.assertj.core.api.Assertions.assertThat;

import org.junit.jupiter.api.Test;

class XenEntriesTest {
  final String image = "/var/lib/xen/images/default/vm1disk.img";

  @Test
  void theDefaultsGiveTheCurrentAndTheRecipesForms() {
    assertThat(XenEntries.keyword(image, new Xen(null, null, null)))
        .isEqualTo(
            "format=raw, vdev=xvda1, access=rw, target=/var/lib/xen/images/default/vm1disk.img");
    assertThat(XenEntries.legacy(image, new Xen("sda1", null, null)))
        .isEqualTo("file:/var/lib/xen/images/default/vm1disk.img,sda1,w");
  }

  @Test
  void readOnlyAndABackendTypeComeBeforeTheTarget() {
    assertThat(XenEntries.keyword(image, new Xen("xvdb", Xen.Access.ro, Xen.BackendType.phy)))
        .isEqualTo(
            "format=raw, vdev=xvdb, access=ro, backendtype=phy, target=/var/lib/xen/images/default/vm1disk.img");
    assertThat(XenEntries.legacy(image, new Xen("xvdb", Xen.Access.ro, Xen.BackendType.phy)))
        .isEqualTo("phy:/var/lib/xen/images/default/vm1disk.img,xvdb,r");
    assertThat(XenEntries.legacy(image, new Xen(null, null, Xen.BackendType.qdisk))).isNull();
  }

  @Test
  void aPathWithACommaOrColonHasOnlyTheKeywordForm() {
    String odd = "/srv/xen,images/a:b.img";
    assertThat(XenEntries.legacy(odd, null)).isNull();
    assertThat(XenEntries.keyword(odd, null)).endsWith(", target=/srv/xen,images/a:b.img");
  }
}
