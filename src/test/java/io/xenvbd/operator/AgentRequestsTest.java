package io.xenvbd.operator;

import static org.assertj.core.api.Assertions.assertThat;

import com.fasterxml.jackson.databind.ObjectMapper;
import io.xenvbd.api.Dom0Node;
import io.xenvbd.api.Dom0NodeStatus;
import io.xenvbd.api.Populate;
import io.xenvbd.api.Tailor;
import io.xenvbd.api.VirtualDiskSpec;
import io.xenvbd.api.Xen;
import io.xenvbd.protocol.DiskSpec;
import io.xenvbd.protocol.Protocol;
import java.time.Instant;
import java.util.Arrays;
import java.util.List;
import org.junit.jupiter.api.Test;

/**
 * The one mapping from a VirtualDisk spec to the agent protocol, and how an agent's version is
 * read.
 */
class AgentRequestsTest {
  static final VirtualDiskSpec FULL =
      new VirtualDiskSpec(
          "node-a",
          "2Gi",
          VirtualDiskSpec.Filesystem.xfs,
          new Populate(
              Arrays.asList(new Populate.HostPath("/srv/etc", "/etc"), null),
              new Populate.Archive("https://m/r.tar", "a".repeat(64)),
              new Populate.CloneFrom("base"),
              List.of("/proc", "/tmp"),
              Populate.Method.LoopMount),
          new Tailor(
              "vm1",
              List.of(new Tailor.FstabEntry("self", "/", "xfs", null, 1, 1)),
              List.of(new Tailor.File("/etc/motd", "hi\n", "0600"))),
          new Xen("xvdb", Xen.Access.ro, Xen.BackendType.qdisk),
          true,
          VirtualDiskSpec.ReclaimPolicy.Retain);

  @Test
  void onTheWireASpecIsWhatVersionOneSentSoOlderAgentsUnderstandIt() throws Exception {
    ObjectMapper json = new ObjectMapper();
    // version 1 of the wire was the CRD's spec serialized: the protocol's own type must not drift
    // from it
    assertThat(json.readTree(json.writeValueAsBytes(AgentRequests.toWire(FULL, null))))
        .isEqualTo(json.readTree(json.writeValueAsBytes(FULL)));
    VirtualDiskSpec sparse = new VirtualDiskSpec(null, "8Mi", null, null, null, null, null, null);
    assertThat(json.readTree(json.writeValueAsBytes(AgentRequests.toWire(sparse, null))))
        .isEqualTo(json.readTree(json.writeValueAsBytes(sparse)));
  }

  @Test
  void aCloneCarriesItsSourcesUidWhichAnOlderAgentIsNotSent() {
    DiskSpec wire = AgentRequests.toWire(FULL, "uid-base");
    assertThat(wire.populate().cloneFrom()).isEqualTo(new DiskSpec.CloneFrom("base", "uid-base"));
    assertThat(Protocol.CURRENT.forPeer(wire, 2).spec())
        .isEqualTo(AgentRequests.toWire(FULL, null));
  }

  @Test
  void anAgentThatAnnouncesNoVersionInItsDom0NodeSpeaksVersionOne() {
    Dom0Node node = Fixtures.node("a", Fixtures.GI, 0);
    assertThat(AgentRequests.agentVersion(node)).isEqualTo(Protocol.VERSION);
    var s = node.getStatus();
    node.setStatus(
        new Dom0NodeStatus(
            new Dom0NodeStatus.Agent(
                s.agent().endpoint(), s.agent().version(), Instant.now().toString(), 10, null),
            s.loopDevices(),
            s.storage(),
            0,
            List.of(),
            s.conditions()));
    assertThat(AgentRequests.agentVersion(node)).isEqualTo(1);
    assertThat(AgentRequests.agentVersion(null)).isEqualTo(1);
  }
}
