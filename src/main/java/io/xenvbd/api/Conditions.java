package io.xenvbd.api;

import io.fabric8.kubernetes.api.model.Condition;
import io.fabric8.kubernetes.api.model.ConditionBuilder;
import java.time.Clock;
import java.time.Instant;
import java.time.temporal.ChronoUnit;
import java.util.ArrayList;
import java.util.List;
import java.util.Objects;
import java.util.Optional;

/** metav1.Condition handling: one place that decides lastTransitionTime. */
public final class Conditions {
  private Conditions() {}

  public static final String TRUE = "True";
  public static final String FALSE = "False";
  public static final String UNKNOWN = "Unknown";

  public static final String SCHEDULED = "Scheduled";
  public static final String PROVISIONED = "Provisioned";

  /** Present from a disk's first grow on: whether the image has the size spec.size asks. */
  public static final String RESIZED = "Resized";

  public static final String LOOP_DEVICE_AVAILABLE = "LoopDeviceAvailable";
  public static final String READY = "Ready";

  /**
   * A disk on a draining node: False while it is moved or waits to be (the reason says why), True
   * once it was moved.
   */
  public static final String MOVED = "Moved";

  /**
   * A draining Dom0Node: False while disks are left on it, True once none is (pinned ones aside).
   */
  public static final String DRAINED = "Drained";

  /**
   * Returns {@code conditions} with {@code type} set to the given values. The condition keeps its
   * lastTransitionTime when its status did not change, so a status rebuilt on every reconcile is
   * equal to the previous one unless something really changed.
   */
  public static List<Condition> set(
      List<Condition> conditions,
      String type,
      String status,
      String reason,
      String message,
      Long observedGeneration,
      Clock clock) {
    List<Condition> result = new ArrayList<>(conditions == null ? List.of() : conditions);
    Optional<Condition> old = find(result, type);
    String transition =
        old.filter(c -> Objects.equals(c.getStatus(), status))
            .map(Condition::getLastTransitionTime)
            .orElseGet(() -> Instant.now(clock).truncatedTo(ChronoUnit.SECONDS).toString());
    Condition updated =
        new ConditionBuilder()
            .withType(type)
            .withStatus(status)
            .withReason(reason)
            .withMessage(message)
            .withObservedGeneration(observedGeneration)
            .withLastTransitionTime(transition)
            .build();
    result.removeIf(c -> type.equals(c.getType()));
    result.add(updated);
    result.sort((a, b) -> Integer.compare(order(a.getType()), order(b.getType())));
    return List.copyOf(result);
  }

  public static Optional<Condition> find(List<Condition> conditions, String type) {
    if (conditions == null) return Optional.empty();
    return conditions.stream().filter(c -> type.equals(c.getType())).findFirst();
  }

  public static boolean isTrue(List<Condition> conditions, String type) {
    return find(conditions, type).map(c -> TRUE.equals(c.getStatus())).orElse(false);
  }

  private static int order(String type) {
    return switch (type) {
      case SCHEDULED -> 0;
      case PROVISIONED -> 1;
      case RESIZED -> 2;
      case LOOP_DEVICE_AVAILABLE -> 3;
      case READY -> 4;
      default -> 5;
    };
  }
}
