package io.xenvbd.api;

import com.fasterxml.jackson.annotation.JsonIgnoreProperties;
import com.fasterxml.jackson.annotation.JsonInclude;
import com.fasterxml.jackson.annotation.JsonPropertyDescription;
import io.fabric8.generator.annotation.Default;
import io.fabric8.generator.annotation.Min;

/** What an admin sets on a node. The agent creates the object and never changes its spec after that. */
@JsonIgnoreProperties(ignoreUnknown = true)
@JsonInclude(JsonInclude.Include.NON_NULL)
public record Dom0NodeSpec(
    @JsonPropertyDescription("true cordons the node: the operator places no new disks on it. Existing disks are unaffected.")
    @Default("false")
    Boolean unschedulable,

    @JsonPropertyDescription("How far apparent sizes may exceed the images root's capacity: a disk is placed only where overcommitRatio x capacity - promised apparent sizes >= its size. 1.0 (default) never promises more than the disk has.")
    @Default("1.0")
    @Min(0.1)
    Double overcommitRatio) {

  public Dom0NodeSpec {
    if (unschedulable == null) unschedulable = Boolean.FALSE;
    if (overcommitRatio == null) overcommitRatio = 1.0;
  }
}
