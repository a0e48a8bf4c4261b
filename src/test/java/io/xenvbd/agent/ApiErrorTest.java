package io.xenvbd.agent;

import static org.assertj.core.api.Assertions.assertThat;

import io.xenvbd.disk.DiskException;
import io.xenvbd.disk.ErrorCode;
import io.xenvbd.protocol.ErrorCodes;
import java.lang.reflect.Modifier;
import java.util.HashSet;
import java.util.Set;
import org.junit.jupiter.api.Test;

/** The engine's error vocabulary and the protocol's: the one table where they meet. */
class ApiErrorTest {

  @Test
  void errorCodeNamesMatchTheProtocolConstants() throws Exception {
    for (ErrorCode c : ErrorCode.values()) {
      boolean found = false;
      for (var f : ErrorCodes.class.getFields()) found |= c.name().equals(f.get(null));
      assertThat(found).as(c.name()).isTrue();
    }
  }

  @Test
  void everyEngineCodeIsAnsweredAsTheProtocolCodeOfTheSameNameAndNoTwoShareOne() throws Exception {
    Set<String> protocol = new HashSet<>();
    for (var f : ErrorCodes.class.getFields()) {
      if (Modifier.isStatic(f.getModifiers()) && f.getType() == String.class)
        protocol.add((String) f.get(null));
    }
    Set<String> answered = new HashSet<>();
    for (ErrorCode c : ErrorCode.values()) {
      String wire = ApiError.wireCode(c);
      assertThat(wire).as(c.name()).isEqualTo(c.name()).isIn(protocol);
      assertThat(answered.add(wire)).as(c.name()).isTrue();
      ApiError answer = ApiError.of(new DiskException(c, "m"));
      assertThat(answer.code).isEqualTo(wire);
      assertThat(answer.status).as(c.name()).isBetween(400, 599);
    }
  }
}
