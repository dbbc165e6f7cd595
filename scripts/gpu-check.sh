#!/usr/bin/env bash
# Runs on the GPU machine over stage/, unpacked from the carried stage.tar.xz (see
# stage-for-gpu.sh): the device, the plugin list, validate on CUDA, the conformance check of
# every plugin on CUDA, the INT8 accuracy study on CUDA, and every test suite. Logs go to $OUT (or results/gpu).
# Every step has a time limit (a hung kernel must not eat a device call); the test suites run
# side by side, each into its own log, printed in order afterwards.
# Then: scripts/h100-results.sh device (benchmarks) and scripts/serve-gpu.sh (serving).
# To recheck a change: GPU_CHECK_PLUGINS=a,b (validate/check only those) and GPU_CHECK_TESTS
# (an extended regex of the test binaries to run; default all).
set -uo pipefail
cd "$(dirname "$0")/.."
out=${OUT:-results/gpu}
mkdir -p "$out"
export ATTNB_TEST_PLUGIN_DIR=$PWD/stage/lib/attnbench/plugins
export ATTNB_TEST_FAULT_PLUGIN_DIR=$PWD/stage/libexec/attnbench/tests/fault_plugins
limit=${GPU_CHECK_STEP_S:-120}
status=0
step() {
  echo "\$ $*"
  timeout --kill-after=5 "$limit" "$@"
  local rc=$?
  ((rc == 124 || rc == 137)) && echo "# timed out after ${limit} s"
  ((rc == 0)) || { echo "# exit status $rc"; status=1; }
}
suite() {  # one test binary into its own log; the log's last line is its exit status
  timeout --kill-after=5 "$limit" "$1" --gtest_brief=1 > "$2" 2>&1
  echo "# exit status $?" >> "$2"
}
export -f suite
export limit
{
  echo "# attnbench GPU check, $(date -u +%FT%TZ), $(stage/bin/attnbench --version)"
  nvidia-smi --query-gpu=name,driver_version,memory.total,clocks.max.sm,clocks.max.mem --format=csv
  step stage/bin/attnbench list
  only=${GPU_CHECK_PLUGINS:+--plugin $GPU_CHECK_PLUGINS}
  step stage/bin/attnbench validate --device cuda $only
  for p in stage/lib/attnbench/plugins/*.so; do
    [[ -z ${GPU_CHECK_PLUGINS:-} || ,$GPU_CHECK_PLUGINS, == *,$(basename "$p" .so),* ]] || continue
    step stage/bin/attnbench check "$p" --device cuda
  done
  step stage/bin/attnbench validate --plugin int8_kv --accuracy --device cuda --q-heads 32 \
      --kv-heads 8 --head-dim 128 --dtype fp16
  logs=$(mktemp -d)
  ls stage/libexec/attnbench/tests/*_test | grep -E "${GPU_CHECK_TESTS:-.}" |
      xargs -P 8 -I{} bash -c 'suite "$1" "$2/$(basename "$1").log"' _ {} "$logs"
  for l in "$logs"/*.log; do
    echo "## $(basename "$l" .log)"
    cat "$l"
    tail -1 "$l" | grep -qx '# exit status 0' || status=1
  done
  echo "# exit status $status"
  exit $status
} 2>&1 | tee "$out/gpu_check.log"
exit "${PIPESTATUS[0]}"
