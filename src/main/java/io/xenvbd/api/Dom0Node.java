package io.xenvbd.api;

import io.fabric8.crd.generator.annotation.AdditionalPrinterColumn;
import io.fabric8.kubernetes.client.CustomResource;
import io.fabric8.kubernetes.model.annotation.Group;
import io.fabric8.kubernetes.model.annotation.Kind;
import io.fabric8.kubernetes.model.annotation.Plural;
import io.fabric8.kubernetes.model.annotation.Singular;
import io.fabric8.kubernetes.model.annotation.Version;

/** A dom0 node as its agent reports it. Cluster-scoped, named after the Kubernetes node. */
@Group(VirtualDisk.GROUP)
@Version(VirtualDisk.VERSION)
@Kind("Dom0Node")
@Plural("dom0nodes")
@Singular("dom0node")
@AdditionalPrinterColumn(
    name = "Loop",
    jsonPath = ".status.loopDevices.summary",
    type = AdditionalPrinterColumn.Type.STRING)
@AdditionalPrinterColumn(
    name = "Available",
    jsonPath = ".status.storage.available",
    type = AdditionalPrinterColumn.Type.STRING)
@AdditionalPrinterColumn(
    name = "Disks",
    jsonPath = ".status.disks",
    type = AdditionalPrinterColumn.Type.INTEGER)
@AdditionalPrinterColumn(
    name = "Ready",
    jsonPath = ".status.conditions[?(@.type==\"Ready\")].status",
    type = AdditionalPrinterColumn.Type.STRING)
@AdditionalPrinterColumn(
    name = "Age",
    jsonPath = ".metadata.creationTimestamp",
    type = AdditionalPrinterColumn.Type.DATE)
public class Dom0Node extends CustomResource<Dom0NodeSpec, Dom0NodeStatus> {
  public static final String CRD_NAME = "dom0nodes." + VirtualDisk.GROUP;
}
