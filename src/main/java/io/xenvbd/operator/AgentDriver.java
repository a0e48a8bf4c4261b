package io.xenvbd.operator;

import io.xenvbd.api.Dom0Node;
import io.xenvbd.api.Reasons;
import io.xenvbd.api.VirtualDisk;
import io.xenvbd.api.VirtualDiskStatus;
import io.xenvbd.protocol.AgentClient;
import io.xenvbd.protocol.AgentClientFactory;
import io.xenvbd.protocol.AgentException;
import io.xenvbd.protocol.AgentUnreachableException;
import io.xenvbd.protocol.DiskSpec;
import io.xenvbd.protocol.DiskState;
import io.xenvbd.protocol.ErrorCodes;
import io.xenvbd.protocol.Protocol;
import io.xenvbd.protocol.PutDiskRequest;
import io.xenvbd.protocol.TransferTicket;
import java.time.Clock;
import java.time.Duration;
import java.util.Optional;
import java.util.concurrent.Semaphore;
import java.util.function.Predicate;

/**
 * Moves a placed disk one step towards its spec through the node's agent: GET what the agent knows,
 * PUT the desired disk when the image is missing, too small (and the placer admits the grow) or
 * failed and due for a retry, and report what it saw. It never waits: a running build is polled by
 * rescheduling with a growing delay.
 */
final class AgentDriver {
  /** What the step found, and when to look again (null: only when something changes). */
  record Step(Outcome outcome, Duration recheck) {}

  private final AgentClientFactory agents;
  private final ClusterView cluster;
  private final Backoffs backoffs;
  private final Clock clock;
  private final OperatorMetrics metrics;

  private final Duration readyRecheck;
  private final Placer placer;
  private final Protocol protocol;

  /** Whether the ends of a node's builds reach the operator ({@link EndWatcher#live}). */
  private final Predicate<String> endsLive;

  AgentDriver(
      AgentClientFactory agents,
      ClusterView cluster,
      Placer placer,
      Backoffs backoffs,
      Clock clock,
      OperatorMetrics metrics,
      Duration readyRecheck,
      Protocol protocol,
      Predicate<String> endsLive) {
    this.endsLive = endsLive;
    this.protocol = protocol;
    this.readyRecheck = readyRecheck;
    this.placer = placer;
    this.agents = agents;
    this.cluster = cluster;
    this.backoffs = backoffs;
    this.clock = clock;
    this.metrics = metrics;
  }

  Step drive(VirtualDisk disk, String nodeName, long size) {
    String uid = disk.getMetadata().getUid();
    Optional<Dom0Node> node = cluster.node(nodeName);
    // a lost node (no heartbeat, or no Dom0Node): the disk stays bound to it and says so; the
    // node's next heartbeat or registration wakes it through the Dom0Node informer, and its return
    // is tried at once
    Optional<Outcome.Unreachable> lost = NodeLoss.of(nodeName, node, clock);
    if (lost.isPresent()) {
      backoffs.release(uid);
      return new Step(lost.get(), backoffs.failed(uid));
    }
    Optional<String> unhealthy = NodeHealth.problem(node.get(), clock);
    if (unhealthy.isPresent()) {
      // the next heartbeat wakes this disk through the Dom0Node informer, and is tried at once; the
      // recheck is a safety net
      backoffs.release(uid);
      return new Step(
          new Outcome.Unreachable(Reasons.NODE_UNREACHABLE, unhealthy.get()), backoffs.failed(uid));
    }
    // Woken before its retry is due (a heartbeat wakes every disk on the node that is not Ready):
    // the agent is not called again, so a fleet of failing disks costs one call per disk per
    // backoff step, not one per heartbeat. A spec edit (a new generation) is tried at once.
    Long generation = disk.getMetadata().getGeneration();
    Optional<Outcome> waiting = backoffs.waiting(uid, generation);
    if (waiting.isPresent()) return new Step(waiting.get(), backoffs.untilRetry(uid));
    Step step = callAgent(disk, node.get(), nodeName, size);
    backoffs.remember(uid, generation, step.outcome());
    return step;
  }

  private Step callAgent(VirtualDisk disk, Dom0Node dom0, String nodeName, long size) {
    String uid = disk.getMetadata().getUid();
    Optional<Dom0Node> node = Optional.of(dom0);
    String ns = disk.getMetadata().getNamespace();
    String name = disk.getMetadata().getName();
    try {
      AgentClient agent = agents.forNode(nodeName, node.get().getStatus().agent().endpoint());
      // where the node tells of each end, nothing waits for it here: the end wakes the disk
      boolean live = endsLive.test(nodeName);
      boolean waits = !live && building(disk) && waiting.tryAcquire();
      long asked = System.nanoTime();
      DiskState state;
      try {
        state =
            agent
                .getDisk(ns, name, waits ? WAIT_FOR_END : Duration.ZERO)
                .filter(s -> uid.equals(s.uid()))
                .orElse(null);
      } finally {
        if (waits) waiting.release();
      }
      metrics.agentCall("get", "ok");
      if (state != null && isBusy(state)) {
        boolean waitedItOut = waits && System.nanoTime() - asked >= WAIT_FOR_END.toNanos() * 9 / 10;
        // the agent held the answer until the wait was over: ask again at once, it answers when
        // the build ends; else (queued, or an agent that does not wait) poll as before
        return waitedItOut && !state.queued()
            ? new Step(new Outcome.Working(state), Duration.ofMillis(1))
            : working(uid, state, live);
      }
      if (state != null && state.phase() == DiskState.Phase.Ready && capacity(state) >= size) {
        backoffs.reset(uid);
        return new Step(new Outcome.Done(state), readyRecheck);
      }
      if (state != null && state.phase() == DiskState.Phase.Failed && !backoffs.retryDue(uid)) {
        return new Step(failedOrGrowRefused(state), backoffs.untilRetry(uid));
      }
      // a grow, or a first build whose spec.size grew after placement: held to the node's room like
      // a
      // placement, before the agent is asked to make or touch the file
      var refused = placer.admitSize(disk, node.get(), size, capacity(state));
      if (refused.isPresent()) {
        backoffs.reset(uid);
        String reason = refused.get().reason();
        Outcome outcome =
            state != null && state.phase() == DiskState.Phase.Ready
                ? new Outcome.GrowRefused(state, reason, refused.get().message())
                : new Outcome.Unschedulable(reason, refused.get().message());
        return new Step(outcome, readyRecheck);
      }
      // only what the agent's protocol version knows; a disk that needs more is not sent at all
      int agentVersion = AgentRequests.agentVersion(node.get());
      DiskSpec wire = AgentRequests.toWire(disk.getSpec(), cloneSourceUid(disk));
      if (state == null
          || state.allocatedBytes()
              == null) { // no image yet: a clone from another node needs its ticket
        CrossNode cross = crossNode(disk, nodeName, wire, agentVersion);
        if (cross.refusal() != null) return cross.refusal();
        wire = cross.wire();
      }
      Protocol.Tailored sent = protocol.forPeer(wire, agentVersion);
      if (sent.lacking() != null) {
        backoffs.reset(uid);
        return new Step(
            new Outcome.Incompatible(
                Reasons.AGENT_TOO_OLD,
                AgentRequests.tooOld(sent.lacking(), nodeName, agentVersion)),
            readyRecheck);
      }
      state = agent.putDisk(ns, name, new PutDiskRequest(uid, sent.spec()));
      metrics.agentCall("put", "ok");
      return switch (state.phase()) {
        case Building, Resizing -> working(uid, state, live);
        case Ready -> capacity(state) >= size ? done(uid, state) : working(uid, state, live);
        case Failed -> new Step(failedOrGrowRefused(state), backoffs.failed(uid));
      };
    } catch (AgentUnreachableException e) {
      metrics.agentCall("any", "unreachable");
      return new Step(
          new Outcome.Unreachable(e.reason(), "dom0 node " + nodeName + ": " + e.getMessage()),
          backoffs.failed(uid));
    } catch (AgentException e) {
      metrics.agentCall("any", e.code());
      if (ErrorCodes.OPERATOR_TOO_OLD.equals(
          e.code())) { // waits for an operator upgrade, not for a retry
        return new Step(
            new Outcome.Incompatible(
                Reasons.OPERATOR_TOO_OLD, "dom0 node " + nodeName + ": " + e.getMessage()),
            readyRecheck);
      }
      if (ErrorCodes.BUSY.equals(
          e.code())) { // transient: the agent sheds load, the disk has not failed
        return new Step(
            new Outcome.Unreachable(
                Reasons.NODE_UNREACHABLE, "dom0 node " + nodeName + ": " + e.getMessage()),
            backoffs.failed(uid));
      }
      return new Step(new Outcome.Failed(e.code(), e.getMessage()), backoffs.failed(uid));
    }
  }

  /**
   * The spec to send, with the remote source filled in when the clone's source is on another node;
   * or why not now.
   */
  private record CrossNode(DiskSpec wire, Step refusal) {}

  /**
   * A clone whose source is Ready on another node: the operator asks that node's agent (with that
   * node's token) for a single-use ticket for the source's image and hands it to the target agent
   * with the source node's name and the endpoint its Dom0Node advertises. The tenant names neither.
   */
  private CrossNode crossNode(VirtualDisk disk, String nodeName, DiskSpec wire, int targetVersion) {
    var populate = disk.getSpec().populate();
    if (populate == null || populate.cloneFrom() == null) return new CrossNode(wire, null);
    String uid = disk.getMetadata().getUid();
    String ns = disk.getMetadata().getNamespace();
    String sourceName = populate.cloneFrom().name();
    Optional<VirtualDisk> source = cluster.disk(ns, sourceName);
    String sourceNode = source.map(VirtualDisk::getStatus).map(st -> st.nodeName()).orElse(null);
    if (sourceNode == null || sourceNode.equals(nodeName)) return new CrossNode(wire, null);
    Optional<Dom0Node> node = cluster.node(sourceNode);
    if (node.isEmpty()) {
      return new CrossNode(
          null,
          new Step(
              new Outcome.Unreachable(
                  Reasons.NODE_NOT_FOUND,
                  "the clone's source "
                      + sourceName
                      + " is on node "
                      + sourceNode
                      + ", whose Dom0Node no longer exists: start its agent again"),
              backoffs.failed(uid)));
    }
    Optional<String> unhealthy = NodeHealth.problem(node.get(), clock);
    if (unhealthy.isPresent()) {
      return new CrossNode(
          null,
          new Step(
              new Outcome.Unreachable(
                  Reasons.NODE_UNREACHABLE,
                  "the clone's source node " + sourceNode + ": " + unhealthy.get()),
              backoffs.failed(uid)));
    }
    int sourceVersion = AgentRequests.agentVersion(node.get());
    String endpoint = node.get().getStatus().agent().endpoint();
    if (sourceVersion < Protocol.STREAM_SINCE || targetVersion < Protocol.STREAM_SINCE) {
      // one end cannot speak this build's stream: no ticket is asked for, nothing is sent
      boolean sourceOld = sourceVersion < Protocol.STREAM_SINCE;
      String old = sourceOld ? sourceNode : nodeName;
      backoffs.reset(uid);
      return new CrossNode(
          null,
          new Step(
              new Outcome.Incompatible(
                  Reasons.AGENT_TOO_OLD,
                  "the agent on node "
                      + old
                      + " speaks protocol "
                      + (sourceOld ? sourceVersion : targetVersion)
                      + "; streaming the clone's source "
                      + sourceName
                      + " from node "
                      + sourceNode
                      + " to node "
                      + nodeName
                      + " needs protocol "
                      + Protocol.STREAM_SINCE
                      + " on both: upgrade the agent on "
                      + old
                      + ", or leave spec.nodeName empty to clone on "
                      + sourceNode),
              readyRecheck));
    }
    TransferTicket ticket;
    try {
      ticket =
          agents
              .forNode(sourceNode, endpoint)
              .transferTicket(
                  new TransferTicket.Request(ns, sourceName, source.get().getMetadata().getUid()));
      metrics.agentCall("ticket", "ok");
    } catch (AgentUnreachableException e) {
      metrics.agentCall("ticket", "unreachable");
      return new CrossNode(
          null,
          new Step(
              new Outcome.Unreachable(
                  e.reason(), "the clone's source node " + sourceNode + ": " + e.getMessage()),
              backoffs.failed(uid)));
    } catch (AgentException e) {
      metrics.agentCall("ticket", e.code());
      return new CrossNode(
          null,
          new Step(
              new Outcome.Failed(
                  e.code(), "the clone's source node " + sourceNode + ": " + e.getMessage()),
              backoffs.failed(uid)));
    }
    return new CrossNode(
        withRemote(wire, new DiskSpec.Remote(sourceNode, endpoint, ticket.ticket())), null);
  }

  private static DiskSpec withRemote(DiskSpec wire, DiskSpec.Remote source) {
    DiskSpec.Populate p = wire.populate();
    DiskSpec.CloneFrom c = p.cloneFrom();
    DiskSpec.Populate remote =
        new DiskSpec.Populate(
            p.hostPaths(),
            p.archive(),
            new DiskSpec.CloneFrom(c.name(), c.uid(), source),
            p.createDirs(),
            p.method());
    return new DiskSpec(
        wire.nodeName(),
        wire.size(),
        wire.filesystem(),
        remote,
        wire.tailor(),
        wire.xen(),
        wire.preallocate(),
        wire.reclaimPolicy());
  }

  /** The uid of the VirtualDisk populate.cloneFrom names, when there is one now. */
  private String cloneSourceUid(VirtualDisk disk) {
    var populate = disk.getSpec().populate();
    if (populate == null || populate.cloneFrom() == null) return null;
    return cluster
        .disk(disk.getMetadata().getNamespace(), populate.cloneFrom().name())
        .map(source -> source.getMetadata().getUid())
        .orElse(null);
  }

  private Step working(String uid, DiskState state, boolean endsLive) {
    return new Step(new Outcome.Working(state), backoffs.nextPoll(uid, state.queued(), endsLive));
  }

  private Step done(String uid, DiskState state) {
    backoffs.reset(uid);
    return new Step(new Outcome.Done(state), readyRecheck);
  }

  /**
   * A failed grow (a guest holds the image, the node ran out of room...) leaves the image usable at
   * its old size: the disk stays Ready and Resized says why it was not grown. Only an operation
   * that left no image is a failed disk. The agent reports the image's figures with a failure only
   * when a published image exists.
   */
  private static Outcome failedOrGrowRefused(DiskState state) {
    Outcome.Failed f = failed(state);
    return state.allocatedBytes() != null && state.capacityBytes() != null
        ? new Outcome.GrowRefused(state, f.code(), f.message())
        : f;
  }

  private static Outcome.Failed failed(DiskState state) {
    String code = state.error() == null ? "Failed" : state.error().code();
    String message =
        state.error() == null ? "the agent reports the build failed" : state.error().message();
    return new Outcome.Failed(code, message);
  }

  /**
   * While a disk is being built, the GET of its state waits up to this long for the agent's worker
   * to end it, so Ready follows the end of the build at once instead of at the next poll (up to
   * pollMin later). At most {@link #MAX_WAITING} reconciles wait so at a time; the others poll.
   */
  static final Duration WAIT_FOR_END = Duration.ofSeconds(1);

  static final int MAX_WAITING = 8;

  private final Semaphore waiting = new Semaphore(MAX_WAITING);

  private static boolean building(VirtualDisk disk) {
    return disk.getStatus() != null
        && disk.getStatus().phase() == VirtualDiskStatus.Phase.Provisioning;
  }

  private static boolean isBusy(DiskState state) {
    return state.phase() == DiskState.Phase.Building || state.phase() == DiskState.Phase.Resizing;
  }

  private static long capacity(DiskState state) {
    return state == null || state.capacityBytes() == null ? 0 : state.capacityBytes();
  }
}
