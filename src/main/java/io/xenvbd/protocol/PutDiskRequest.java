package io.xenvbd.protocol;

import io.xenvbd.api.VirtualDiskSpec;

/** Body of {@code PUT /v1/disks/{namespace}/{name}}: the desired disk and the uid of the VirtualDisk that owns it. */
public record PutDiskRequest(String uid, VirtualDiskSpec spec) {}
