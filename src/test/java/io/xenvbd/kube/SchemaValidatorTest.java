package io.xenvbd.kube;

import static org.assertj.core.api.Assertions.assertThat;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.node.ObjectNode;
import io.xenvbd.testing.Manifests;
import java.io.InputStream;
import java.util.List;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.CsvSource;

/** The generated VirtualDisk CRD's schema, applied by a real JSON Schema validator. */
class SchemaValidatorTest {
  static JsonNode crd;
  final SchemaValidator validator = new SchemaValidator();

  @BeforeAll
  static void loadCrd() throws Exception {
    try (InputStream in =
        SchemaValidatorTest.class
            .getClassLoader()
            .getResourceAsStream("META-INF/fabric8/virtualdisks.xenvbd.io-v1.yml")) {
      crd = Json.YAML.readTree(in);
    }
  }

  static ObjectNode vm1disk() {
    return (ObjectNode) Json.parseYaml(Manifests.vm1disk("vm1disk", "2Gi", "ext3"));
  }

  static ObjectNode with(String yamlSpecLine, String replaced) {
    return (ObjectNode)
        Json.parseYaml(Manifests.vm1disk("vm1disk", "2Gi", "ext3").replace(replaced, yamlSpecLine));
  }

  @Test
  void theSeedRecipeDiskIsValid() {
    assertThat(validator.validate(crd, vm1disk())).isEmpty();
  }

  @ParameterizedTest
  @CsvSource({"2GB", "0", "-1", "1.5.5Gi", "Gi"})
  void aSizeThatIsNotAPositiveQuantityIsRejectedOnSpecSize(String size) {
    ObjectNode vd = vm1disk();
    ((ObjectNode) vd.get("spec")).put("size", size);
    List<FieldError> errors = validator.validate(crd, vd);
    assertThat(errors).extracting(FieldError::field).containsExactly("spec.size");
    assertThat(errors.get(0).message())
        .startsWith("spec.size: Invalid value: \"" + size + "\": spec.size in body should match");
  }

  @Test
  void anUnknownFilesystemIsAnUnsupportedValueListingTheChoices() {
    List<FieldError> errors =
        validator.validate(crd, with("filesystem: btrfs", "filesystem: ext3"));
    assertThat(errors)
        .singleElement()
        .satisfies(
            e -> {
              assertThat(e.field()).isEqualTo("spec.filesystem");
              assertThat(e.reason()).isEqualTo("FieldValueNotSupported");
              assertThat(e.detail())
                  .isEqualTo(
                      "Unsupported value: \"btrfs\": supported values: \"ext2\", \"ext3\", \"ext4\", "
                          + "\"none\", \"xfs\"");
            });
  }

  @Test
  void aRelativeHostPathIsRejectedWithItsIndex() {
    List<FieldError> errors = validator.validate(crd, with("- path: etc", "- path: /etc"));
    assertThat(errors)
        .extracting(FieldError::field)
        .containsExactly("spec.populate.hostPaths[0].path");
  }

  @Test
  void aBadVdevIsRejected() {
    List<FieldError> errors = validator.validate(crd, with("vdev: vda1", "vdev: sda1"));
    assertThat(errors).extracting(FieldError::field).containsExactly("spec.xen.vdev");
  }

  @Test
  void aMissingSizeIsARequiredValue() {
    ObjectNode vd = vm1disk();
    ((ObjectNode) vd.get("spec")).remove("size");
    assertThat(validator.validate(crd, vd))
        .singleElement()
        .satisfies(e -> assertThat(e.message()).isEqualTo("spec.size: Required value"));
  }

  @Test
  void severalBadFieldsAreEachNamed() {
    ObjectNode vd = with("vdev: xvda99999", "vdev: sda1");
    ((ObjectNode) vd.get("spec")).put("size", "0").put("reclaimPolicy", "Keep");
    assertThat(validator.validate(crd, vd))
        .extracting(FieldError::field)
        .containsExactly("spec.reclaimPolicy", "spec.size", "spec.xen.vdev");
  }

  @Test
  void defaultsFillExistingObjectsOnlyAndUnknownFieldsArePruned() {
    ObjectNode vd =
        (ObjectNode)
            Json.parseYaml(
                """
        apiVersion: xenvbd.io/v1alpha1
        kind: VirtualDisk
        metadata: {name: d, labels: {a: b}}
        spec:
          size: 1Gi
          colour: red
          tailor:
            fstab:
            - {device: self, mountPoint: /, type: ext4}
        """);
    JsonNode schema = SchemaValidator.schemaOf(crd, "v1alpha1");
    assertThat(SchemaDefaults.prune(schema, vd)).containsExactly("spec.colour");
    SchemaDefaults.applyDefaults(schema, vd);
    JsonNode spec = vd.get("spec");
    assertThat(spec.get("filesystem").asText()).isEqualTo("ext4");
    assertThat(spec.get("reclaimPolicy").asText()).isEqualTo("Delete");
    assertThat(spec.get("preallocate").asBoolean()).isFalse();
    assertThat(spec.path("tailor").path("fstab").get(0).get("options").asText())
        .isEqualTo("defaults");
    assertThat(spec.has("xen")).as("no default creates a missing parent object").isFalse();
    assertThat(spec.has("colour")).isFalse();
    assertThat(vd.path("metadata").path("labels").path("a").asText()).isEqualTo("b");
    assertThat(validator.validate(crd, vd)).isEmpty();
  }
}
