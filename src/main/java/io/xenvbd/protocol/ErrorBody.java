package io.xenvbd.protocol;

/**
 * Every agent error body: a machine-readable code and a message a person can act on. Never a stack
 * trace.
 */
public record ErrorBody(String code, String message) {}
