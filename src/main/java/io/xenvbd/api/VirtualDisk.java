package io.xenvbd.api;

import io.fabric8.crd.generator.annotation.AdditionalPrinterColumn;
import io.fabric8.kubernetes.api.model.Namespaced;
import io.fabric8.kubernetes.client.CustomResource;
import io.fabric8.kubernetes.model.annotation.Group;
import io.fabric8.kubernetes.model.annotation.Kind;
import io.fabric8.kubernetes.model.annotation.Plural;
import io.fabric8.kubernetes.model.annotation.ShortNames;
import io.fabric8.kubernetes.model.annotation.Singular;
import io.fabric8.kubernetes.model.annotation.Version;

/**
 * A file-backed Xen virtual disk: a sparse image on one dom0 node, built and tailored by its agent.
 */
@Group(VirtualDisk.GROUP)
@Version(VirtualDisk.VERSION)
@Kind("VirtualDisk")
@Plural("virtualdisks")
@Singular("virtualdisk")
@ShortNames("vd")
@AdditionalPrinterColumn(
    name = "Node",
    jsonPath = ".status.nodeName",
    type = AdditionalPrinterColumn.Type.STRING)
@AdditionalPrinterColumn(
    name = "Size",
    jsonPath = ".spec.size",
    type = AdditionalPrinterColumn.Type.STRING)
@AdditionalPrinterColumn(
    name = "Allocated",
    jsonPath = ".status.allocated",
    type = AdditionalPrinterColumn.Type.STRING)
@AdditionalPrinterColumn(
    name = "FS",
    jsonPath = ".spec.filesystem",
    type = AdditionalPrinterColumn.Type.STRING)
@AdditionalPrinterColumn(
    name = "Phase",
    jsonPath = ".status.phase",
    type = AdditionalPrinterColumn.Type.STRING)
@AdditionalPrinterColumn(
    name = "Ready",
    jsonPath = ".status.conditions[?(@.type==\"Ready\")].status",
    type = AdditionalPrinterColumn.Type.STRING)
@AdditionalPrinterColumn(
    name = "Age",
    jsonPath = ".metadata.creationTimestamp",
    type = AdditionalPrinterColumn.Type.DATE)
public class VirtualDisk extends CustomResource<VirtualDiskSpec, VirtualDiskStatus>
    implements Namespaced {
  public static final String GROUP = "xenvbd.io";
  public static final String VERSION = "v1alpha1";
  public static final String CRD_NAME = "virtualdisks." + GROUP;

  /**
   * The finalizer the operator puts on every VirtualDisk so the image is dealt with before the
   * resource goes.
   */
  public static final String FINALIZER = "xenvbd.io/image";
}
