#!/usr/bin/env bash
# One device call (H200), after the review mend (the early launch a flag of launch_dependent;
# kernels unchanged): int8_kv's and fused's CUDA tests (every tunable value, early_launch 0
# and 1 among them), validate for both, and int8_kv's decode at 32 x 4096 with early_launch
# 0 and 1. Run from the repository root over stage.tar.xz.
set -uo pipefail
out=${OUT:?}
tar xf stage.tar.xz
bin=stage/bin/attnbench
export ATTNB_TEST_PLUGIN_DIR=$PWD/stage/lib/attnbench/plugins
{
  nvidia-smi --query-gpu=name,driver_version,clocks.max.sm,clocks.max.mem --format=csv,noheader
  timeout 60 stage/libexec/attnbench/tests/int8_kv_plugin_test --gtest_brief=1 --gtest_filter='*/cuda' 2>&1 | tail -2
  timeout 90 stage/libexec/attnbench/tests/fused_plugin_test --gtest_brief=1 --gtest_filter='*/cuda' 2>&1 | tail -2
  timeout 60 $bin validate --device cuda --plugin fused,int8_kv 2>&1 | tail -1
  timeout 40 $bin bench --plugin int8_kv --min-time 0.2 --max-time 0.6 --phase decode --preset llama3-8b --dtype fp16 \
      --out "$out/early.csv" --batch 32 --context 4096 --sweep-tunable early_launch=0,1 > /dev/null 2>&1
  python3 -c "
import csv
for r in csv.DictReader(open('$out/early.csv')): print(r['tunables'], r['status'], r['time_p50_s'], r['bandwidth_pct'])"
} > "$out/checks.log" 2>&1
cat "$out/checks.log"
