package io.xenvbd.docs;

import static org.assertj.core.api.Assertions.assertThat;

import io.xenvbd.api.Conditions;
import io.xenvbd.api.VirtualDiskStatus;
import io.xenvbd.protocol.ErrorCodes;
import java.io.IOException;
import java.lang.reflect.Field;
import java.lang.reflect.Modifier;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Set;
import java.util.TreeSet;
import java.util.regex.Matcher;
import java.util.regex.Pattern;
import org.junit.jupiter.api.Test;

/**
 * docs/operations.md is what an admin follows on day two: every reason, condition or error code it
 * tells them to look for exists in the code (and the clone methods of status.cloned), every
 * `kubectl patch` of a spec names a field the CRD has, and every page it sends them to exists.
 */
class OperationsDocMatchesCodeTest {
  static final Path DOC = Path.of("docs/operations.md");

  @Test
  void everyReasonConditionAndCodeItNamesExists() throws Exception {
    Set<String> known = new TreeSet<>(DocsMatchCodeTest.reasons());
    known.addAll(constants(Conditions.class));
    known.addAll(constants(ErrorCodes.class));
    for (var method : VirtualDiskStatus.CloneMethod.values()) known.add(method.name());
    Set<String> named = Markdown.codeSpans(Markdown.read(DOC.toString()), DocsMatchCodeTest.REASON);
    assertThat(named).as("reasons, conditions and codes docs/operations.md names").isNotEmpty();
    Set<String> unknown = new TreeSet<>(named);
    unknown.removeAll(known);
    assertThat(unknown).as("named in docs/operations.md but not in the code").isEmpty();
  }

  @Test
  void everySpecFieldItPatchesIsInTheCrd() throws IOException {
    String doc = Files.readString(DOC);
    String crd = Files.readString(Path.of("crds/dom0nodes.xenvbd.io.yaml"));
    Matcher m = Pattern.compile("-p '\\{\"spec\":\\{\"(\\w+)\"").matcher(doc);
    int patches = 0;
    while (m.find()) {
      patches++;
      assertThat(crd).as("Dom0Node spec field " + m.group(1)).contains(" " + m.group(1) + ":");
    }
    assertThat(patches).as("kubectl patch commands in docs/operations.md").isPositive();
  }

  @Test
  void everyPageItLinksExists() throws IOException {
    Matcher m =
        Pattern.compile("\\]\\(([a-z-]+\\.md)(#[a-z0-9-]+)?\\)").matcher(Files.readString(DOC));
    int links = 0;
    while (m.find()) {
      links++;
      Path page = Path.of("docs").resolve(m.group(1));
      assertThat(page).as("linked page").exists();
      if (m.group(2) != null) {
        String anchor = m.group(2).substring(1);
        assertThat(Markdown.read(page.toString()).lines())
            .as("a heading of " + page + " for #" + anchor)
            .anyMatch(l -> l.startsWith("#") && slug(l).equals(anchor));
      }
    }
    assertThat(links).isPositive();
  }

  private static String slug(String heading) {
    return heading
        .replaceFirst("^#+\\s*", "")
        .toLowerCase()
        .replaceAll("[^a-z0-9 -]", "")
        .replace(' ', '-');
  }

  private static Set<String> constants(Class<?> c) throws IllegalAccessException {
    Set<String> all = new TreeSet<>();
    for (Field f : c.getFields())
      if (Modifier.isStatic(f.getModifiers()) && f.getType() == String.class)
        all.add((String) f.get(null));
    return all;
  }
}
