package io.xenvbd.kube;

import static org.assertj.core.api.Assertions.assertThat;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.MappingIterator;
import io.fabric8.kubernetes.client.utils.Serialization;
import io.xenvbd.api.Crds;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.stream.Stream;
import org.junit.jupiter.api.Test;

/** Every example under examples/ passes the schema validation the embedded API server applies. */
class ExamplesValidateTest {
  final SchemaValidator validator = new SchemaValidator();

  @Test
  void everyExampleIsValidAgainstItsCrd() throws IOException {
    JsonNode vdCrd = Json.parse(Serialization.asJson(Crds.virtualDisk()));
    JsonNode nodeCrd = Json.parse(Serialization.asJson(Crds.dom0Node()));
    List<String> checked = new ArrayList<>();
    try (Stream<Path> files = Files.list(Path.of("examples"))) {
      for (Path f : files.filter(p -> p.toString().endsWith(".yaml")).sorted().toList()) {
        try (MappingIterator<JsonNode> docs =
            Json.YAML.readerFor(JsonNode.class).readValues(f.toFile())) {
          for (JsonNode doc : docs.readAll()) {
            String kind = Json.text(doc, "kind");
            JsonNode crd =
                "VirtualDisk".equals(kind) ? vdCrd : "Dom0Node".equals(kind) ? nodeCrd : null;
            if (crd != null) {
              assertThat(validator.validate(crd, doc))
                  .as(f + " " + Json.text(doc, "metadata", "name"))
                  .isEmpty();
              checked.add(f.getFileName() + "/" + Json.text(doc, "metadata", "name"));
            }
          }
        }
      }
    }
    assertThat(checked).as("the examples the README uses").contains("vm1disk.yaml/vm1disk");
  }
}
