package io.xenvbd.kube;

/**
 * One rejected field, shaped like kube-apiserver's field.Error: {@code field} is the path ({@code
 * spec.size}), {@code reason} the cause type ({@code FieldValueInvalid}), {@code detail} the text
 * after the field ({@code Invalid value: "2GB": ...}).
 */
public record FieldError(String field, String reason, String detail) {
  public String message() {
    return field + ": " + detail;
  }
}
