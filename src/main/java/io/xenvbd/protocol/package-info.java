/**
 * The agent protocol: what the operator and a node agent say to each other over HTTPS, in types of
 * its own ({@link io.xenvbd.protocol.DiskSpec}, {@link io.xenvbd.protocol.PutDiskRequest}, {@link
 * io.xenvbd.protocol.DiskState}, {@link io.xenvbd.protocol.NodeInfo}, {@link
 * io.xenvbd.protocol.ErrorBody}), never the CRD's classes: the VirtualDisk API and the agent API
 * change at different times. The operator maps a VirtualDisk spec to a DiskSpec in one place, and
 * the agent maps it back to what its disk engine builds.
 *
 * <p><b>Versions.</b> Each end announces the version it speaks ({@link
 * io.xenvbd.protocol.Protocol}); a field added after version 1 is listed with its version in {@link
 * io.xenvbd.protocol.Protocol.Field#TABLE}, and the operator sends an agent only the fields its
 * version knows.
 *
 * <p><b>Unknown fields, the same policy at both ends.</b> Requests are strict: the agent refuses a
 * request that carries a field it does not know (HTTP 400 {@code InvalidRequest}, naming the field
 * and the known ones), since a setting it would silently ignore could build another disk than the
 * one asked for; the operator never sends one, because it tailors each request to the agent's
 * announced version. Responses are tolerant: the operator ignores fields of an answer that it does
 * not know, so an agent newer than the operator can add to its answers. The agent's reader ({@code
 * agent.Exchanges.JSON}) and the operator's ({@code HttpAgentClient}) are configured so, and tests
 * hold both to it.
 *
 * <p>What this package takes from {@code io.xenvbd.api}: only the condition reason names in {@code
 * Reasons} (shared constants, no CRD model class).
 */
package io.xenvbd.protocol;
