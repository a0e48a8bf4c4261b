package io.xenvbd.operator;

import io.fabric8.kubernetes.api.model.ConditionBuilder;
import io.fabric8.kubernetes.api.model.ObjectMetaBuilder;
import io.xenvbd.api.Dom0Node;
import io.xenvbd.api.Dom0NodeSpec;
import io.xenvbd.api.Dom0NodeStatus;
import io.xenvbd.api.LoopDevices;
import io.xenvbd.api.Populate;
import io.xenvbd.api.Sizes;
import io.xenvbd.api.VirtualDisk;
import io.xenvbd.api.VirtualDiskSpec;
import io.xenvbd.protocol.Protocol;
import java.time.Instant;
import java.util.List;

/** Plain API objects for tests. */
final class Fixtures {
  private Fixtures() {}

  static final long GI = 1L << 30;
  static final long MI = 1L << 20;

  /** A Dom0Node as a healthy agent would report it. */
  static Dom0Node node(
      String name,
      long capacity,
      long promised,
      int loopMax,
      int loopInUse,
      boolean cordoned,
      Instant heartbeat,
      int heartbeatSeconds) {
    Dom0Node n = new Dom0Node();
    n.setMetadata(new ObjectMetaBuilder().withName(name).build());
    n.setSpec(new Dom0NodeSpec(cordoned, 1.0));
    n.setStatus(
        new Dom0NodeStatus(
            new Dom0NodeStatus.Agent(
                "fake://" + name, "test", heartbeat.toString(), heartbeatSeconds, Protocol.VERSION),
            LoopDevices.of(loopMax, loopInUse, List.of()),
            new Dom0NodeStatus.Storage(
                "/var/lib/xen/images-" + name,
                capacity,
                capacity - promised,
                promised / 2,
                promised,
                Sizes.human(capacity - promised)),
            0,
            List.of(),
            List.of(
                new ConditionBuilder()
                    .withType("Ready")
                    .withStatus("True")
                    .withReason("AgentHeartbeat")
                    .withLastTransitionTime(heartbeat.toString())
                    .build())));
    return n;
  }

  static Dom0Node node(String name, long capacity, long promised) {
    return node(name, capacity, promised, 8, 1, false, Instant.now(), 3600);
  }

  static VirtualDisk disk(String ns, String name, String size) {
    return disk(ns, name, new VirtualDiskSpec(null, size, null, null, null, null, null, null));
  }

  static VirtualDisk disk(String ns, String name, VirtualDiskSpec spec) {
    VirtualDisk d = new VirtualDisk();
    d.setMetadata(new ObjectMetaBuilder().withNamespace(ns).withName(name).build());
    d.setSpec(spec);
    return d;
  }

  static VirtualDiskSpec spec(
      String nodeName,
      String size,
      VirtualDiskSpec.Filesystem fs,
      Populate populate,
      VirtualDiskSpec.ReclaimPolicy policy) {
    return new VirtualDiskSpec(nodeName, size, fs, populate, null, null, null, policy);
  }
}
