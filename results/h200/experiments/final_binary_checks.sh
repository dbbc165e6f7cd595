#!/usr/bin/env bash
# One device call (H200) at f98705d, then again at 114e82b (the review mends), the session's last builds: compute-sanitizer memcheck and
# racecheck over int8_kv's CUDA tests (the two-stage, V-in-registers kernel), fused's CUDA
# tests (its decode launch's host code changed) and validate for both. Run from the
# repository root over stage.tar.xz.
set -uo pipefail
out=${OUT:?}
tar xf stage.tar.xz
bin=stage/bin/attnbench
cuda=/usr/local/cuda/bin
export ATTNB_TEST_PLUGIN_DIR=$PWD/stage/lib/attnbench/plugins
{
  nvidia-smi --query-gpu=name,driver_version,clocks.max.sm,clocks.max.mem --format=csv,noheader
  for tool in memcheck racecheck; do
    timeout 100 $cuda/compute-sanitizer --tool $tool stage/libexec/attnbench/tests/int8_kv_plugin_test \
        --gtest_brief=1 --gtest_filter='*/cuda' 2>&1 | tail -2
  done
  timeout 150 stage/libexec/attnbench/tests/fused_plugin_test --gtest_brief=1 --gtest_filter='*/cuda' 2>&1 | tail -2
  timeout 100 $bin validate --device cuda --plugin fused,int8_kv 2>&1 | tail -1
  echo "done at ${SECONDS}s"
} > "$out/checks.log" 2>&1
cat "$out/checks.log"
