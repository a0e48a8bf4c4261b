package io.xenvbd.disk;

import com.fasterxml.jackson.core.JsonProcessingException;
import com.fasterxml.jackson.databind.MapperFeature;
import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.SerializationFeature;
import com.fasterxml.jackson.databind.json.JsonMapper;
import io.xenvbd.api.Sizes;
import io.xenvbd.api.Validation;
import io.xenvbd.api.VirtualDiskSpec;
import java.security.MessageDigest;
import java.security.NoSuchAlgorithmException;
import java.util.HexFormat;
import java.util.LinkedHashMap;
import java.util.Map;
import java.util.regex.Pattern;

/**
 * One disk request: built by the agent from the VirtualDisk spec.
 *
 * @param cloneSourceUid with populate.cloneFrom, the owner uid the source image must have; null:
 *     any image published under the source's name (a caller of protocol version 1 or 2)
 */
public record DiskRequest(
    String namespace,
    String name,
    String uid,
    VirtualDiskSpec spec,
    long sizeBytes,
    String cloneSourceUid) {

  private static final Pattern UID = Pattern.compile("^[A-Za-z0-9][-A-Za-z0-9_.]{0,127}$");
  private static final ObjectMapper CANONICAL =
      JsonMapper.builder()
          .enable(MapperFeature.SORT_PROPERTIES_ALPHABETICALLY)
          .enable(SerializationFeature.ORDER_MAP_ENTRIES_BY_KEYS)
          .build();

  public DiskRequest {
    checkNames(namespace, name);
    if (uid == null || !UID.matcher(uid).matches()) {
      throw DiskException.invalid(
          "uid '" + uid + "' is missing or malformed: pass the VirtualDisk's metadata.uid");
    }
    if (spec == null) throw DiskException.invalid("spec is missing");
    if (sizeBytes <= 0) throw DiskException.invalid("size must be greater than zero");
    if (cloneSourceUid != null && !UID.matcher(cloneSourceUid).matches()) {
      throw DiskException.invalid(
          "spec.populate.cloneFrom.uid is malformed: pass the source VirtualDisk's metadata.uid");
    }
  }

  /**
   * Validates names (DNS-1123), parses spec.size with {@link Sizes}; InvalidRequest on bad input.
   */
  public static DiskRequest of(String namespace, String name, String uid, VirtualDiskSpec spec) {
    return of(namespace, name, uid, spec, null);
  }

  /**
   * Like {@link #of(String, String, String, VirtualDiskSpec)}, cloning only a source image that
   * {@code cloneSourceUid} owns.
   */
  public static DiskRequest of(
      String namespace, String name, String uid, VirtualDiskSpec spec, String cloneSourceUid) {
    if (spec == null) throw DiskException.invalid("spec is missing");
    long size;
    try {
      size = Sizes.bytes(spec.size());
    } catch (IllegalArgumentException e) {
      throw DiskException.invalid(e.getMessage());
    }
    return new DiskRequest(namespace, name, uid, spec, size, cloneSourceUid);
  }

  static void checkNames(String namespace, String name) {
    if (!Validation.isDns1123Label(namespace)) {
      throw DiskException.invalid(
          "namespace '"
              + namespace
              + "' is not a DNS-1123 label (lower-case letters, digits, '-', at most 63)");
    }
    if (!Validation.isDns1123Subdomain(name)) {
      throw DiskException.invalid(
          "name '" + name + "' is not a DNS-1123 subdomain (lower-case letters, digits, '-', '.')");
    }
  }

  /**
   * Stable SHA-256 of the parts of the spec that shape the built image (everything except size).
   */
  public String specDigest() {
    Map<String, Object> shaping = new LinkedHashMap<>();
    shaping.put("filesystem", spec.filesystem());
    shaping.put("populate", spec.populate());
    shaping.put("tailor", spec.tailor());
    shaping.put("preallocate", spec.preallocate());
    try {
      byte[] json = CANONICAL.writeValueAsBytes(shaping);
      return HexFormat.of().formatHex(MessageDigest.getInstance("SHA-256").digest(json));
    } catch (JsonProcessingException | NoSuchAlgorithmException e) {
      throw new IllegalStateException("cannot digest the spec", e);
    }
  }

  String key() {
    return namespace + "/" + name;
  }
}
