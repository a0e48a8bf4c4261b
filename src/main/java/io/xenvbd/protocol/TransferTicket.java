package io.xenvbd.protocol;

/**
 * Answer of {@code POST /v1/transfers} (protocol 5): a single-use ticket for streaming one image to
 * another node's agent, valid {@code expiresInSeconds} from now and for nothing but that image.
 */
public record TransferTicket(String ticket, long expiresInSeconds, long sizeBytes) {
  @Override
  public String toString() {
    return "TransferTicket[ticket=(hidden), expiresInSeconds="
        + expiresInSeconds
        + ", sizeBytes="
        + sizeBytes
        + "]";
  }

  /**
   * Body of {@code POST /v1/transfers}: the image of VirtualDisk {@code namespace/name} that the
   * VirtualDisk of {@code uid} owns.
   */
  public record Request(String namespace, String name, String uid) {}
}
