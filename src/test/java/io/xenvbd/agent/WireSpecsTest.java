package io.xenvbd.agent;

import static org.assertj.core.api.Assertions.assertThat;

import io.xenvbd.api.Populate;
import io.xenvbd.api.Tailor;
import io.xenvbd.api.VirtualDiskSpec;
import io.xenvbd.api.Xen;
import io.xenvbd.protocol.PutDiskRequest;
import java.util.Arrays;
import java.util.List;
import org.junit.jupiter.api.Test;

/**
 * What a caller of any protocol version sends is read, by the agent's strict reader, as the spec it
 * meant.
 */
class WireSpecsTest {
  @Test
  void aVersionOneBodyIsReadAsTheSpecItWasMadeFromWithTheSameDigest() throws Exception {
    VirtualDiskSpec full =
        new VirtualDiskSpec(
            "node-a",
            "2Gi",
            VirtualDiskSpec.Filesystem.xfs,
            new Populate(
                Arrays.asList(new Populate.HostPath("/srv/etc", "/etc"), null),
                new Populate.Archive("https://m/r.tar", null),
                new Populate.CloneFrom("base"),
                List.of("/proc"),
                Populate.Method.LoopMount),
            new Tailor(
                "vm1",
                List.of(new Tailor.FstabEntry("self", "/", "xfs", null, 1, 1)),
                Arrays.asList(new Tailor.File("/etc/motd", "hi", null), null)),
            new Xen("xvdb", Xen.Access.ro, Xen.BackendType.phy),
            true,
            VirtualDiskSpec.ReclaimPolicy.Retain);
    for (VirtualDiskSpec spec :
        List.of(full, new VirtualDiskSpec(null, "8Mi", null, null, null, null, null, null))) {
      // a version-1 operator sent the CRD's spec serialized, reclaimPolicy and defaults included
      String v1 = "{\"uid\":\"u\",\"spec\":" + Exchanges.JSON.writeValueAsString(spec) + "}";
      PutDiskRequest read = Exchanges.JSON.readValue(v1, PutDiskRequest.class);
      VirtualDiskSpec back = WireSpecs.toApi(read.spec());
      // equal, so images built before the protocol had its own types keep their spec digest
      assertThat(back).isEqualTo(spec);
      assertThat(WireSpecs.cloneSourceUid(read.spec())).isNull();
    }
  }
}
