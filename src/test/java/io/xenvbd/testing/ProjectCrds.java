package io.xenvbd.testing;

import static org.awaitility.Awaitility.await;

import io.fabric8.kubernetes.api.model.apiextensions.v1.CustomResourceDefinition;
import io.fabric8.kubernetes.api.model.apiextensions.v1.CustomResourceDefinitionCondition;
import io.fabric8.kubernetes.client.KubernetesClient;
import io.fabric8.kubernetes.client.utils.Serialization;
import java.io.IOException;
import java.io.UncheckedIOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.List;
import java.util.stream.Stream;

/** The committed CRD files (crds/*.yaml), as a user applies them, on the real API server. */
public final class ProjectCrds {
  public static final Path DIR = Path.of("crds");

  private ProjectCrds() {}

  public static List<Path> files() {
    try (Stream<Path> s = Files.list(DIR)) {
      return s.filter(p -> p.toString().endsWith(".yaml")).sorted().toList();
    } catch (IOException e) {
      throw new UncheckedIOException(e);
    }
  }

  public static CustomResourceDefinition read(Path file) {
    try {
      return Serialization.unmarshal(Files.readString(file), CustomResourceDefinition.class);
    } catch (IOException e) {
      throw new UncheckedIOException(e);
    }
  }

  /**
   * Applies every CRD file (server-side apply, so that classes sharing the API server may all call
   * this) and waits until each is Established: the API server accepted its schema and serves it.
   */
  public static List<CustomResourceDefinition> install(KubernetesClient admin) {
    List<CustomResourceDefinition> applied =
        files().stream()
            .map(ProjectCrds::read)
            .map(
                crd ->
                    admin
                        .apiextensions()
                        .v1()
                        .customResourceDefinitions()
                        .resource(crd)
                        .fieldManager("xenvbd-tests")
                        .forceConflicts()
                        .serverSideApply())
            .toList();
    for (CustomResourceDefinition crd : applied) {
      await()
          .atMost(Duration.ofSeconds(30))
          .until(
              () ->
                  condition(
                          admin
                              .apiextensions()
                              .v1()
                              .customResourceDefinitions()
                              .withName(crd.getMetadata().getName())
                              .get(),
                          "Established")
                      .equals("True"));
      // Established comes before the resource's storage is ready (429 "storage is
      // (re)initializing").
      String apiVersion =
          crd.getSpec().getGroup() + "/" + crd.getSpec().getVersions().get(0).getName();
      await()
          .atMost(Duration.ofSeconds(30))
          .ignoreExceptions()
          .until(
              () ->
                  admin
                          .genericKubernetesResources(
                              apiVersion, crd.getSpec().getNames().getKind())
                          .inAnyNamespace()
                          .list()
                      != null);
    }
    return applied;
  }

  /** A condition's status, or "absent". */
  public static String condition(CustomResourceDefinition crd, String type) {
    if (crd == null || crd.getStatus() == null) return "absent";
    return crd.getStatus().getConditions().stream()
        .filter(c -> c.getType().equals(type))
        .map(CustomResourceDefinitionCondition::getStatus)
        .findFirst()
        .orElse("absent");
  }
}
