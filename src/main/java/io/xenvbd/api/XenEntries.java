package io.xenvbd.api;

/**
 * The guest's {@code disk=} entry per xl-disk-configuration(5). The keyword form puts {@code
 * target=} last, where xl takes the rest of the string verbatim, so any path works. The legacy
 * positional form splits on commas and reads a {@code prefix:} before the path, so a path with ','
 * or ':' cannot be written in it: then there is no legacy entry (null) and the keyword form is the
 * one to use. A function of the image path and the spec's {@code xen} only, so the operator
 * computes the lines for the current spec (vdev and access may change without rebuilding the
 * image).
 */
public final class XenEntries {
  private XenEntries() {}

  public static String keyword(String image, Xen xen) {
    Xen x = xen == null ? new Xen(null, null, null) : xen;
    StringBuilder b =
        new StringBuilder("format=raw, vdev=")
            .append(x.vdev())
            .append(", access=")
            .append(x.access());
    if (x.backendType() != null) b.append(", backendtype=").append(x.backendType());
    return b.append(", target=").append(image).toString();
  }

  /**
   * {@code file:/path,sda1,w} — or null when the path or backend cannot be expressed in that form.
   */
  public static String legacy(String image, Xen xen) {
    Xen x = xen == null ? new Xen(null, null, null) : xen;
    String path = image;
    if (path.contains(",") || path.contains(":") || path.contains("\n")) return null;
    String prefix;
    if (x.backendType() == null) prefix = "file:";
    else if (x.backendType() == Xen.BackendType.phy) prefix = "phy:";
    else if (x.backendType() == Xen.BackendType.tap) prefix = "tap:aio:";
    else return null; // qdisk has no legacy prefix
    return prefix + path + "," + x.vdev() + "," + (x.access() == Xen.Access.ro ? "r" : "w");
  }
}
