package io.xenvbd.kube;

import static org.assertj.core.api.Assertions.assertThat;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.node.ObjectNode;
import io.xenvbd.api.Validation;
import io.xenvbd.testing.Manifests;
import java.io.InputStream;
import java.util.List;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;

/** The CRD's CEL rules, evaluated with cel-java and the Kubernetes quantity library. */
class CelValidatorTest {
  static JsonNode schema;
  final CelValidator cel = new CelValidator();

  @BeforeAll
  static void loadCrd() throws Exception {
    try (InputStream in =
        CelValidatorTest.class
            .getClassLoader()
            .getResourceAsStream("META-INF/fabric8/virtualdisks.xenvbd.io-v1.yml")) {
      schema = SchemaValidator.schemaOf(Json.YAML.readTree(in), "v1alpha1");
    }
  }

  static ObjectNode disk(String size, String fs, String node) {
    ObjectNode vd = (ObjectNode) Json.parseYaml(Manifests.vm1disk("d", size, fs));
    if (node != null) {
      ((ObjectNode) vd.get("spec")).put("nodeName", node);
    }
    return vd;
  }

  static ObjectNode adopting(String adoptJson, String extraPopulateJson) {
    ObjectNode vd = disk("1Gi", "ext3", "n1");
    String populate =
        "{\"adopt\": "
            + adoptJson
            + (extraPopulateJson == null ? "" : ", " + extraPopulateJson)
            + "}";
    ((ObjectNode) vd.get("spec")).set("populate", Json.parseYaml(populate));
    return vd;
  }

  @Test
  void adoptionNamesExactlyOneImageAndNoOtherSource() {
    assertThat(cel.validate(schema, adopting("{\"name\": \"web\"}", null), null)).isEmpty();
    assertThat(cel.validate(schema, adopting("{\"importFile\": \"vm1disk\"}", null), null))
        .isEmpty();
    assertThat(
            cel.validate(
                schema, adopting("{\"name\": \"web\", \"importFile\": \"vm1disk\"}", null), null))
        .extracting(FieldError::detail)
        .singleElement()
        .asString()
        .contains("names exactly one image");
    assertThat(cel.validate(schema, adopting("{}", null), null))
        .extracting(FieldError::detail)
        .singleElement()
        .asString()
        .contains("names exactly one image");
    assertThat(
            cel.validate(
                schema,
                adopting(
                    "{\"namespace\": \"ns1\", \"uuid\": \"0b6b2a6e-3f7c-4d3e-9a52-5e1b1c2d3e4f\"}",
                    null),
                null))
        .extracting(FieldError::detail)
        .singleElement()
        .asString()
        .contains("goes with adopt.name");
    assertThat(
            cel.validate(
                schema, adopting("{\"name\": \"web\"}", "\"createDirs\": [\"/tmp\"]"), null))
        .extracting(FieldError::detail)
        .singleElement()
        .asString()
        .contains("takes an image as it is");
  }

  @Test
  void transitionRulesAreNotRunOnCreate() {
    assertThat(cel.validate(schema, disk("1Gi", "ext4", null), null)).isEmpty();
  }

  @Test
  void shrinkingIsRejectedAndGrowingAcceptedComparingQuantitiesNotText() {
    List<FieldError> shrink =
        cel.validate(schema, disk("1Gi", "ext4", null), disk("1025Mi", "ext4", null));
    assertThat(shrink)
        .singleElement()
        .satisfies(
            e -> {
              assertThat(e.field()).isEqualTo("spec");
              assertThat(e.message())
                  .isEqualTo(
                      "spec: Invalid value: \"object\": spec.size may grow but never shrink: "
                          + "set it to at least the current size");
            });
    assertThat(cel.validate(schema, disk("2G", "ext4", null), disk("1Gi", "ext4", null))).isEmpty();
    assertThat(cel.validate(schema, disk("1024Mi", "ext4", null), disk("1Gi", "ext4", null)))
        .isEmpty();
  }

  @Test
  void filesystemAndASetNodeNameAreImmutable() {
    assertThat(cel.validate(schema, disk("1Gi", "xfs", null), disk("1Gi", "ext4", null)))
        .extracting(FieldError::detail)
        .singleElement()
        .asString()
        .contains("spec.filesystem is immutable");
    assertThat(cel.validate(schema, disk("1Gi", "ext4", "b"), disk("1Gi", "ext4", "a")))
        .extracting(FieldError::detail)
        .singleElement()
        .asString()
        .contains("spec.nodeName is immutable");
    assertThat(cel.validate(schema, disk("1Gi", "ext4", "b"), disk("1Gi", "ext4", ""))).isEmpty();
  }

  /** {@code vm1disk} with {@code key} of its spec set to {@code yaml}, or removed for null. */
  static ObjectNode edited(String key, String yaml) {
    ObjectNode vd = disk("1Gi", "ext4", null);
    ObjectNode spec = (ObjectNode) vd.get("spec");
    if (yaml == null) spec.remove(key);
    else spec.set(key, Json.parseYaml(yaml));
    return vd;
  }

  @Test
  void populateTailorAndPreallocateCannotBeChangedAddedOrRemoved() {
    ObjectNode built = disk("1Gi", "ext4", null);
    ((ObjectNode) built.get("spec")).put("preallocate", false);
    record Edit(String key, String yaml, String message) {}
    for (Edit edit :
        List.of(
            new Edit("populate", "{createDirs: [/proc]}", Validation.POPULATE_BUILD_TIME),
            new Edit("populate", null, Validation.POPULATE_BUILD_TIME),
            new Edit("tailor", "{hostname: vm2}", Validation.TAILOR_BUILD_TIME),
            new Edit("tailor", null, Validation.TAILOR_BUILD_TIME),
            new Edit("preallocate", "true", Validation.PREALLOCATE_BUILD_TIME),
            new Edit("preallocate", null, Validation.PREALLOCATE_BUILD_TIME))) {
      ObjectNode vd = edited(edit.key(), edit.yaml());
      if (!edit.key().equals("preallocate"))
        ((ObjectNode) vd.get("spec")).put("preallocate", false);
      assertThat(cel.validate(schema, vd, built))
          .as(edit.key() + " -> " + edit.yaml())
          .singleElement()
          .satisfies(
              e ->
                  assertThat(e.message())
                      .isEqualTo("spec: Invalid value: \"object\": " + edit.message()));
    }
    ObjectNode bare = edited("populate", null);
    ((ObjectNode) bare.get("spec")).remove("tailor");
    ObjectNode added = edited("populate", "{createDirs: [/tmp]}");
    ((ObjectNode) added.get("spec")).remove("tailor");
    assertThat(cel.validate(schema, added, bare))
        .extracting(FieldError::detail)
        .singleElement()
        .asString()
        .contains(Validation.POPULATE_BUILD_TIME);
    assertThat(Validation.POPULATE_BUILD_TIME)
        .contains(
            "spec.filesystem, spec.populate, spec.tailor and spec.preallocate are build-time only",
            "create a new VirtualDisk");
  }

  @Test
  void sizeXenAndReclaimPolicyMayChangeAndAnUnchangedSpecPasses() {
    ObjectNode built = disk("1Gi", "ext4", null);
    assertThat(cel.validate(schema, disk("1Gi", "ext4", null), built)).isEmpty();
    assertThat(cel.validate(schema, disk("2Gi", "ext4", null), built)).isEmpty();
    assertThat(cel.validate(schema, edited("xen", "{vdev: xvdb, access: ro}"), built)).isEmpty();
    assertThat(cel.validate(schema, edited("reclaimPolicy", "Retain"), built)).isEmpty();
  }

  @Test
  void cloneFromCannotBeCombinedWithHostPaths() {
    ObjectNode vd = disk("1Gi", "ext4", null);
    ((ObjectNode) vd.get("spec").get("populate")).putObject("cloneFrom").put("name", "base");
    assertThat(cel.validate(schema, vd, null))
        .extracting(FieldError::field)
        .containsExactly("spec.populate");
  }

  /**
   * The API server refuses at apply what mkfs would refuse after minutes of waiting, in the
   * operator's words.
   */
  @Test
  void sizesBelowTheFilesystemsMinimumAreRefusedOnCreate() {
    assertThat(cel.validate(schema, disk("64Mi", "xfs", null), null))
        .extracting(FieldError::detail)
        .singleElement()
        .asString()
        .contains(Validation.XFS_TOO_SMALL);
    assertThat(cel.validate(schema, disk("300Mi", "xfs", null), null)).isEmpty();
    assertThat(cel.validate(schema, disk("1Mi", "ext3", null), null))
        .extracting(FieldError::detail)
        .singleElement()
        .asString()
        .contains(Validation.EXT_JOURNAL_TOO_SMALL);
    assertThat(cel.validate(schema, disk("2Mi", "ext4", null), null)).isEmpty();
    assertThat(cel.validate(schema, disk("64Ki", "ext2", null), null))
        .extracting(FieldError::detail)
        .singleElement()
        .asString()
        .contains(Validation.EXT2_TOO_SMALL);
    assertThat(cel.validate(schema, disk("1Ki", "none", null), null)).isEmpty();
    ObjectNode defaulted = disk("1Mi", "ext4", null);
    ((ObjectNode) defaulted.get("spec")).remove("filesystem");
    assertThat(cel.validate(schema, defaulted, null))
        .extracting(FieldError::detail)
        .singleElement()
        .asString()
        .contains(Validation.EXT_JOURNAL_TOO_SMALL);
    assertThat(cel.validate(schema, disk("lots", "xfs", null), null))
        .as("the pattern reports a non-quantity")
        .isEmpty();
  }

  @Test
  void theQuantityLibraryFunctionsWork() {
    JsonNode rules =
        Json.parseYaml(
            """
        type: object
        x-kubernetes-validations:
        - rule: quantity('1Gi').compareTo(quantity('1024Mi')) == 0
        - rule: quantity('1.5Gi').isGreaterThan(quantity('1G'))
        - rule: quantity('2k').add(quantity('500')).asInteger() == 2500
        - rule: sign(quantity('500m')) == 1 && !quantity('500m').isInteger() && isQuantity('3Ti') && !isQuantity('3TB')
        - rule: isQuantity('1Ei') && quantity('1Ei').compareTo(quantity('1024Pi')) == 0 && quantity('1E').isGreaterThan(quantity('999P'))
        - rule: quantity('1e3').compareTo(quantity('1k')) == 0 && quantity('2E2').asInteger() == 200
        - rule: size(self.items) == 2 && has(self.name) && !has(self.other)
        """);
    JsonNode obj = Json.parse("{\"name\":\"x\",\"items\":[1,2]}");
    assertThat(cel.validate(rules, obj, null)).isEmpty();
  }

  @Test
  void theExaSuffixesAreSuffixesNotExponents() {
    JsonNode rules =
        Json.parseYaml(
            """
        type: object
        x-kubernetes-validations:
        - rule: quantity('1Ei').compareTo(quantity('1024Pi')) == 0
        - rule: quantity('1E').compareTo(quantity('1000P')) == 0 && quantity('1e3').asInteger() == 1000
        - rule: isQuantity('2Ei') && !isQuantity('1e')
        """);
    assertThat(cel.validate(rules, Json.parse("{}"), null)).isEmpty();
  }
}
