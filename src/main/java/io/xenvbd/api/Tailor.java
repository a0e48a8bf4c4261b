package io.xenvbd.api;

import com.fasterxml.jackson.annotation.JsonIgnoreProperties;
import com.fasterxml.jackson.annotation.JsonInclude;
import com.fasterxml.jackson.annotation.JsonPropertyDescription;
import io.fabric8.generator.annotation.Default;
import io.fabric8.generator.annotation.Max;
import io.fabric8.generator.annotation.Min;
import io.fabric8.generator.annotation.Pattern;
import io.fabric8.generator.annotation.Required;
import io.fabric8.generator.annotation.Size;
import java.util.List;

/**
 * What the manual recipe edits by hand in the mounted image. Written into the image, never into
 * dom0.
 */
@JsonIgnoreProperties(ignoreUnknown = true)
@JsonInclude(JsonInclude.Include.NON_NULL)
public record Tailor(
    @JsonPropertyDescription("Written to /etc/hostname in the image.")
        @Pattern(Validation.HOSTNAME)
        @Size(max = Validation.MAX_NAME)
        String hostname,
    @JsonPropertyDescription(
            "Lines of /etc/fstab in the image (the file is replaced). A device of 'self' becomes UUID=<this image's filesystem UUID>, which boots whether the guest sees xvda1 or sda1.")
        @Size(max = Validation.MAX_FSTAB_ENTRIES)
        List<FstabEntry> fstab,
    @JsonPropertyDescription("Extra files written into the image, replacing what is there.")
        @Size(max = Validation.MAX_FILES)
        List<File> files) {

  public Tailor {
    if (fstab == null) fstab = List.of();
    if (files == null) files = List.of();
  }

  /** The fstab device value that stands for this image's own filesystem. */
  public static final String SELF_DEVICE = "self";

  @JsonIgnoreProperties(ignoreUnknown = true)
  @JsonInclude(JsonInclude.Include.NON_NULL)
  public record FstabEntry(
      @JsonPropertyDescription(
              "Device: 'self' (this image, by UUID), UUID=..., LABEL=..., /dev/xvda1, proc, tmpfs ...")
          @Required
          @Pattern(Validation.FSTAB_FIELD)
          @Size(max = Validation.MAX_FSTAB_DEVICE)
          String device,
      @JsonPropertyDescription("Mount point: an absolute path, or none / swap.")
          @Required
          @Pattern(Validation.FSTAB_MOUNT_POINT)
          @Size(max = Validation.MAX_FSTAB_MOUNT_POINT)
          String mountPoint,
      @JsonPropertyDescription("Filesystem type, e.g. ext4, proc, tmpfs, swap.")
          @Required
          @Pattern(Validation.FSTAB_FIELD)
          @Size(max = Validation.MAX_FSTAB_TYPE)
          String type,
      @JsonPropertyDescription("Mount options, comma separated.")
          @Default("defaults")
          @Pattern(Validation.FSTAB_FIELD)
          @Size(max = Validation.MAX_FSTAB_OPTIONS)
          String options,
      @JsonPropertyDescription("dump field (0 or 1).") @Default("0") @Min(0) @Max(1) Integer dump,
      @JsonPropertyDescription("fsck pass: 0 none, 1 the root filesystem, 2 others.")
          @Default("0")
          @Min(0)
          @Max(2)
          Integer pass) {

    public FstabEntry {
      if (options == null) options = "defaults";
      if (dump == null) dump = 0;
      if (pass == null) pass = 0;
    }
  }

  @JsonIgnoreProperties(ignoreUnknown = true)
  @JsonInclude(JsonInclude.Include.NON_NULL)
  public record File(
      @JsonPropertyDescription("Absolute path inside the image.")
          @Required
          @Pattern(Validation.ABSOLUTE_PATH)
          @Size(max = Validation.MAX_PATH)
          String path,
      @JsonPropertyDescription("Content, as UTF-8 text.")
          @Required
          @Size(max = Validation.MAX_FILE_CONTENT)
          String content,
      @JsonPropertyDescription("Octal mode, e.g. 0644 (default) or 0600.")
          @Default("0644")
          @Pattern(Validation.FILE_MODE)
          String mode) {

    public File {
      if (mode == null) mode = "0644";
    }
  }
}
