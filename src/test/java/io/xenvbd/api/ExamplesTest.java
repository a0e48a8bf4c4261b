package io.xenvbd.api;

import static org.assertj.core.api.Assertions.assertThat;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.dataformat.yaml.YAMLFactory;
import io.fabric8.kubernetes.client.utils.Serialization;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import java.util.stream.Stream;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.MethodSource;

class ExamplesTest {
  private static final ObjectMapper YAML = new ObjectMapper(new YAMLFactory());

  static Stream<Path> examples() throws IOException {
    try (Stream<Path> files = Files.list(Path.of("examples"))) {
      List<Path> list = files.filter(p -> p.toString().endsWith(".yaml")).sorted().toList();
      assertThat(list)
          .extracting(p -> p.getFileName().toString())
          .contains("vm1disk.yaml", "empty.yaml", "from-archive.yaml", "clone.yaml");
      return list.stream();
    }
  }

  @ParameterizedTest
  @MethodSource("examples")
  void exampleRoundTripsThroughTheModelWithoutLosingAField(Path example) throws IOException {
    JsonNode written = YAML.readTree(example.toFile());
    VirtualDisk disk = Serialization.unmarshal(Files.readString(example), VirtualDisk.class);
    JsonNode back = YAML.readTree(Serialization.asYaml(disk));
    // Every field the example writes survives the trip (the model may add defaults, never drop a
    // field).
    assertContains(back, written, "");
  }

  @ParameterizedTest
  @MethodSource("examples")
  void exampleKeepsEveryRuleTheOperatorAndTheAgentCheck(Path example) throws IOException {
    VirtualDisk disk = Serialization.unmarshal(Files.readString(example), VirtualDisk.class);
    assertThat(SpecRules.violation("default", disk.getMetadata().getName(), disk.getSpec()))
        .as(example.toString())
        .isEmpty();
  }

  @Test
  void theRecipeExampleSaysWhatTheManualSays() throws IOException {
    VirtualDisk disk =
        Serialization.unmarshal(
            Files.readString(Path.of("examples/vm1disk.yaml")), VirtualDisk.class);
    VirtualDiskSpec spec = disk.getSpec();
    assertThat(Sizes.bytes(spec.size())).isEqualTo(2L << 30);
    assertThat(spec.filesystem()).isEqualTo(VirtualDiskSpec.Filesystem.ext3);
    assertThat(spec.populate().hostPaths())
        .extracting(Populate.HostPath::effectiveTarget)
        .containsExactly("/root", "/dev", "/var", "/etc", "/usr", "/bin", "/sbin", "/lib");
    assertThat(spec.populate().createDirs()).containsExactly("/proc", "/sys", "/home", "/tmp");
    assertThat(spec.tailor().hostname()).isEqualTo("vm1");
    assertThat(spec.tailor().fstab().get(0).device()).isEqualTo("/dev/sda1");
    assertThat(spec.tailor().fstab().get(0).mountPoint()).isEqualTo("/");
    assertThat(spec.xen().vdev()).isEqualTo("sda1");
    assertThat(spec.xen().access()).isEqualTo(Xen.Access.rw);
  }

  @Test
  void defaultsAreFilledInWhenTheFieldsAreAbsent() {
    VirtualDisk disk =
        Serialization.unmarshal(
            """
        apiVersion: xenvbd.io/v1alpha1
        kind: VirtualDisk
        metadata: {name: d}
        spec: {size: 1Gi, populate: {createDirs: [/tmp]}, tailor: {fstab: [{device: self, mountPoint: /, type: ext4}]}}
        """,
            VirtualDisk.class);
    VirtualDiskSpec spec = disk.getSpec();
    assertThat(spec.filesystem()).isEqualTo(VirtualDiskSpec.Filesystem.ext4);
    assertThat(spec.xen().vdev()).isEqualTo("xvda1");
    assertThat(spec.xen().access()).isEqualTo(Xen.Access.rw);
    assertThat(spec.reclaimPolicy()).isEqualTo(VirtualDiskSpec.ReclaimPolicy.Delete);
    assertThat(spec.preallocate()).isFalse();
    assertThat(spec.populate().method()).isEqualTo(Populate.Method.Auto);
    assertThat(spec.tailor().fstab().get(0).options()).isEqualTo("defaults");
    assertThat(spec.tailor().fstab().get(0).pass()).isZero();
  }

  @Test
  void unknownFieldsAreIgnoredByTheModelSoANewerApiDoesNotBreakAnOlderOperator() {
    // The API server prunes unknown fields (structural schema); the model tolerates any that reach
    // it.
    VirtualDisk disk =
        Serialization.unmarshal(
            """
        apiVersion: xenvbd.io/v1alpha1
        kind: VirtualDisk
        metadata: {name: d}
        spec: {size: 1Gi, futureField: 3, xen: {vdev: xvdb, futureKnob: true}}
        """,
            VirtualDisk.class);
    assertThat(disk.getSpec().size()).isEqualTo("1Gi");
    assertThat(disk.getSpec().xen().vdev()).isEqualTo("xvdb");
    assertThat(Serialization.asYaml(disk))
        .doesNotContain("futureField")
        .doesNotContain("futureKnob");
  }

  private static void assertContains(JsonNode actual, JsonNode expected, String path) {
    if (expected.isObject()) {
      expected
          .fields()
          .forEachRemaining(
              e -> {
                assertThat(actual.has(e.getKey()))
                    .as("field %s.%s lost in the round trip", path, e.getKey())
                    .isTrue();
                assertContains(actual.get(e.getKey()), e.getValue(), path + "." + e.getKey());
              });
    } else if (expected.isArray()) {
      assertThat(actual.size()).as("array %s", path).isEqualTo(expected.size());
      for (int i = 0; i < expected.size(); i++)
        assertContains(actual.get(i), expected.get(i), path + "[" + i + "]");
    } else {
      assertThat(actual.asText()).as("value of %s", path).isEqualTo(expected.asText());
    }
  }
}
