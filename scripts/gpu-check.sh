#!/usr/bin/env bash
# Runs on the GPU machine over a carried stage/ (see stage-for-gpu.sh): the device, the
# plugin list, validate on CUDA, the conformance check of every plugin on CUDA, the INT8
# accuracy study on CUDA, and every test suite. Logs go to $OUT (or results/gpu).
# Then: scripts/bench-gpu.sh (benchmarks) and scripts/serve-gpu.sh (serving), one call each.
set -uo pipefail
cd "$(dirname "$0")/.."
out=${OUT:-results/gpu}
mkdir -p "$out"
export ATTNB_TEST_PLUGIN_DIR=$PWD/stage/lib/attnbench/plugins
export ATTNB_TEST_FAULT_PLUGIN_DIR=$PWD/stage/libexec/attnbench/tests/fault_plugins
status=0
{
  echo "# attnbench GPU check, $(date -u +%FT%TZ), commit $(git rev-parse --short HEAD 2>/dev/null || echo unknown)"
  nvidia-smi --query-gpu=name,driver_version,memory.total,clocks.max.sm --format=csv
  stage/bin/attnbench list || status=1
  stage/bin/attnbench validate --device cuda || status=1
  for p in stage/lib/attnbench/plugins/*.so; do
    stage/bin/attnbench check "$p" --device cuda || status=1
  done
  stage/bin/attnbench validate --plugin int8_kv --accuracy --device cuda --q-heads 32 --kv-heads 8 \
      --head-dim 128 --dtype fp16 || status=1
  for t in stage/libexec/attnbench/tests/*_test; do
    echo "## $t"
    "$t" --gtest_brief=1 || status=1
  done
  echo "# exit status $status"
  exit $status
} 2>&1 | tee "$out/gpu_check.log"
exit "${PIPESTATUS[0]}"
