package io.xenvbd;

import static com.tngtech.archunit.core.domain.JavaClass.Predicates.resideInAnyPackage;
import static com.tngtech.archunit.core.domain.JavaClass.Predicates.resideOutsideOfPackage;
import static com.tngtech.archunit.lang.syntax.ArchRuleDefinition.classes;
import static com.tngtech.archunit.lang.syntax.ArchRuleDefinition.noClasses;
import static com.tngtech.archunit.library.dependencies.SlicesRuleDefinition.slices;

import com.tngtech.archunit.core.domain.JavaClasses;
import com.tngtech.archunit.core.importer.ClassFileImporter;
import com.tngtech.archunit.core.importer.ImportOption;
import com.tngtech.archunit.lang.ArchRule;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;

/**
 * The package rules of docs/architecture.md, checked on the compiled main classes (tests may use
 * anything). A rule that fails names the class and the dependency that broke it: move the code to
 * the package the rule allows, or change the rule and the document together.
 */
class ArchitectureTest {
  /** Left out of the node jar (the operator and agent image) with the libraries only they use. */
  static final String[] LOCAL_ONLY = {"io.xenvbd.local..", "io.xenvbd.kube..", "io.xenvbd.ca.."};

  /**
   * What operator and agent may both use: the contract, and small utilities with no role in them.
   */
  static final String[] SHARED = {
    "io.xenvbd.api..",
    "io.xenvbd.protocol..",
    "io.xenvbd.tls..",
    "io.xenvbd.metrics..",
    "io.xenvbd.command.."
  };

  static JavaClasses main;

  @BeforeAll
  static void importMain() {
    main =
        new ClassFileImporter()
            .withImportOption(ImportOption.Predefined.DO_NOT_INCLUDE_TESTS)
            .importPackages("io.xenvbd");
  }

  @Test
  void apiIsAtTheBottomAndUsesNoOtherPackageOfOurs() {
    only("io.xenvbd.api..").check(main);
  }

  @Test
  void theDiskEngineKnowsNothingOfTheRolesTheKubernetesApiOrTheCommandLine() {
    noClasses()
        .that()
        .resideInAPackage("io.xenvbd.disk..")
        .should()
        .dependOnClassesThat()
        .resideInAnyPackage(
            "io.xenvbd.agent..",
            "io.xenvbd.operator..",
            "io.xenvbd.client..",
            "io.xenvbd.command..",
            "io.xenvbd.kube..",
            "io.xenvbd.local..",
            "io.xenvbd.ca..",
            "io.xenvbd.cli..")
        .check(main);
  }

  @Test
  void theAgentNeverUsesTheOperator() {
    // the agent uses client only as a peer: to stream a cross-node clone's source from another
    // agent
    noClasses()
        .that()
        .resideInAPackage("io.xenvbd.agent..")
        .should()
        .dependOnClassesThat()
        .resideInAnyPackage("io.xenvbd.operator..")
        .check(main);
  }

  @Test
  void operatorAndAgentShareOnlyTheProtocolTheApiAndTheSmallUtilities() {
    only("io.xenvbd.operator..", with(SHARED, "io.xenvbd.client..")).check(main);
    only("io.xenvbd.agent..", with(SHARED, "io.xenvbd.disk..", "io.xenvbd.client..")).check(main);
  }

  @Test
  void theSharedPiecesUseOnlyWhatIsBelowThem() {
    only("io.xenvbd.protocol..", "io.xenvbd.api..").check(main);
    only("io.xenvbd.client..", "io.xenvbd.protocol..", "io.xenvbd.tls..", "io.xenvbd.api..")
        .check(main);
    only("io.xenvbd.tls..").check(main);
    only("io.xenvbd.metrics..").check(main);
    only("io.xenvbd.command..").check(main);
  }

  @Test
  void theEmbeddedKubernetesApiIsUsedOnlyByLocalMode() {
    noClasses()
        .that()
        .resideOutsideOfPackages("io.xenvbd.kube..", "io.xenvbd.local..")
        .should()
        .dependOnClassesThat()
        .resideInAPackage("io.xenvbd.kube..")
        .check(main);
  }

  @Test
  void nothingInTheNodeJarUsesWhatItLeavesOut() {
    noClasses()
        .that()
        .resideOutsideOfPackages(LOCAL_ONLY)
        .should()
        .dependOnClassesThat()
        .resideInAnyPackage(
            with(
                LOCAL_ONLY,
                "org.bouncycastle..",
                "io.vertx..",
                "io.netty..",
                "dev.cel..",
                "com.networknt..",
                "io.fabric8.mockwebserver..",
                "io.fabric8.kubernetes.client.server.mock..",
                "com.google.common..",
                "com.google.protobuf.."))
        .check(main);
  }

  @Test
  void theCommandLineIsAThinEntryPointThatNothingUses() {
    noClasses()
        .that()
        .resideOutsideOfPackage("io.xenvbd.cli..")
        .should()
        .dependOnClassesThat()
        .resideInAPackage("io.xenvbd.cli..")
        .check(main);
  }

  @Test
  void noPackagesDependOnEachOtherInACycle() {
    slices().matching("io.xenvbd.(*)..").should().beFreeOfCycles().check(main);
  }

  /** Classes in {@code pkg} use, of our packages, only {@code allowed} (and {@code pkg} itself). */
  private static ArchRule only(String pkg, String... allowed) {
    return classes()
        .that()
        .resideInAPackage(pkg)
        .should()
        .onlyDependOnClassesThat(
            resideOutsideOfPackage("io.xenvbd..").or(resideInAnyPackage(with(allowed, pkg))))
        .as(
            "classes in "
                + pkg
                + " use, of io.xenvbd, only "
                + String.join(", ", with(allowed, pkg)));
  }

  private static String[] with(String[] base, String... more) {
    List<String> all = new ArrayList<>(Arrays.asList(base));
    all.addAll(List.of(more));
    return all.toArray(String[]::new);
  }
}
