package io.xenvbd.operator;

import io.xenvbd.protocol.AgentClient;
import io.xenvbd.protocol.DiskState;
import io.xenvbd.protocol.NodeInfo;
import io.xenvbd.protocol.OperationEnds;
import io.xenvbd.protocol.PutDiskRequest;
import io.xenvbd.protocol.TransferTicket;
import java.time.Duration;
import java.util.Optional;

/** An agent client that hands every call to another: a test overrides only the call it changes. */
class ForwardingAgent implements AgentClient {
  private final AgentClient to;

  ForwardingAgent(AgentClient to) {
    this.to = to;
  }

  @Override
  public NodeInfo node() {
    return to.node();
  }

  @Override
  public DiskState putDisk(String ns, String name, PutDiskRequest request) {
    return to.putDisk(ns, name, request);
  }

  @Override
  public Optional<DiskState> getDisk(String ns, String name) {
    return to.getDisk(ns, name);
  }

  @Override
  public Optional<DiskState> getDisk(String ns, String name, Duration wait) {
    return to.getDisk(ns, name, wait);
  }

  @Override
  public OperationEnds ends(String epoch, long after, Duration wait) {
    return to.ends(epoch, after, wait);
  }

  @Override
  public void deleteDisk(String ns, String name, String uid) {
    to.deleteDisk(ns, name, uid);
  }

  @Override
  public void releaseDisk(String ns, String name, String uid) {
    to.releaseDisk(ns, name, uid);
  }

  @Override
  public TransferTicket transferTicket(TransferTicket.Request request) {
    return to.transferTicket(request);
  }
}
