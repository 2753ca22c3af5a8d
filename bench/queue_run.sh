#!/usr/bin/env bash
# bench/queue_run.sh [BUILD_DIR]: the queue's end-to-end figures (noop
# throughput, submit->running latency, artifact throughput, many small
# files, a job's many large inputs, and the broker on a slow disk). Run on
# a release build (default build/release): sanitizer builds are far slower.
set -euo pipefail
build=${1:-build/release}
for b in throughput latency artifacts files inputs slow_disk; do
  if [ ! -x "$build/bench/bench_queue_$b" ]; then
    echo "queue_run.sh: $build/bench/bench_queue_$b not built (cmake --build $build --target bench_queue_$b)" >&2
    exit 1
  fi
done
export SEGQ_BINARY_DIR=$build
"$build/bench/bench_queue_throughput" "${SEGQ_BENCH_JOBS:-20000}"
echo
"$build/bench/bench_queue_latency" "${SEGQ_BENCH_LATENCY_JOBS:-2000}"
echo
"$build/bench/bench_queue_artifacts" "${SEGQ_BENCH_MIB:-256}"
echo
"$build/bench/bench_queue_files" "${SEGQ_BENCH_FILES:-4000}"
echo
"$build/bench/bench_queue_inputs" "${SEGQ_BENCH_INPUTS:-64}" "${SEGQ_BENCH_INPUT_MIB:-4}"
echo
"$build/bench/bench_queue_slow_disk" "${SEGQ_BENCH_SLOW_FILES:-400}" "${SEGQ_BENCH_FSYNC_US:-5000}"
