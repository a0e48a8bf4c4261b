package io.xenvbd.protocol;

import io.xenvbd.api.VirtualDiskSpec;

/** Body of {@code PUT /v1/disks/{namespace}/{name}}: the desired disk and the uid of the VirtualDisk that owns it. */
public record PutDiskRequest(String uid, VirtualDiskSpec spec) {
  /**
   * The largest body an agent reads: what the largest spec the CRD admits can make (every tailored
   * file at its maximum length, each character JSON-escaped at up to 6 bytes) plus 1 MiB for the
   * rest. A smaller limit would refuse a VirtualDisk the API accepted.
   */
  public static final int MAX_BODY_BYTES =
      io.xenvbd.api.Validation.MAX_FILES * io.xenvbd.api.Validation.MAX_FILE_CONTENT * 6 + (1 << 20);
}
