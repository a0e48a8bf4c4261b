#!/bin/bash
# Builds the jar (and the benchmark classes under src/test/java/io/xenvbd/bench), then runs the
# benchmarks; each writes its section of docs/benchmarks.md. Needs root (loop devices, mounts).
#   bench/run.sh                      # all five at the issue's scale
#   bench/run.sh recipe --runs 7      # one benchmark; --help lists every option
# BENCH_SKIP_BUILD=1 reuses target/ as it is.
set -euo pipefail
cd "$(dirname "$0")/.."
if [ -z "${BENCH_SKIP_BUILD:-}" ]; then mvn -B -q package -DskipTests; fi
exec java -Xmx1g -cp target/xenvbd.jar:target/test-classes io.xenvbd.bench.BenchMain "$@"
