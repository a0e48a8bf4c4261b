package io.xenvbd.protocol;

/**
 * Body of {@code PUT /v1/disks/{namespace}/{name}}: the desired disk and the uid of the VirtualDisk
 * that owns it.
 */
public record PutDiskRequest(String uid, DiskSpec spec) {
  /**
   * The largest body an agent reads, 25 MiB: what the largest spec the CRD admits can make (64
   * tailored files of 65536 characters each, every character JSON-escaped at up to 6 bytes) plus 1
   * MiB for the rest. A smaller limit would refuse a VirtualDisk the API accepted; the agent's
   * tests hold this number to the CRD's limits (api.Validation), which the protocol does not depend
   * on.
   */
  public static final int MAX_BODY_BYTES = 64 * 65536 * 6 + (1 << 20);
}
