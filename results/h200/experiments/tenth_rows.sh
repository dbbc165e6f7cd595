#!/usr/bin/env bash
# One device call (H200) at af2c4f2 (int8_kv's splits merged inside its decode): the CUDA tests
# of fused and int8_kv, compute-sanitizer memcheck and racecheck over int8_kv's, validate; then
# fused's and int8_kv's headline decode rows and tune rows of results/h200 measured again in one
# call (their rows deleted from bench.csv and tune.csv first). Run from the repository root over
# stage.tar.xz.
set -uo pipefail
out=${OUT:?}
tar xf stage.tar.xz
bin=stage/bin/attnbench
cuda=/usr/local/cuda/bin
tests=stage/libexec/attnbench/tests
export ATTNB_TEST_PLUGIN_DIR=$PWD/stage/lib/attnbench/plugins
{
  nvidia-smi --query-gpu=name,driver_version,clocks.max.sm,clocks.max.mem --format=csv,noheader
  timeout 60 $tests/fused_plugin_test --gtest_brief=1 --gtest_filter='*/cuda' 2>&1 | tail -2
  timeout 60 $tests/int8_kv_plugin_test --gtest_brief=1 --gtest_filter='*/cuda' 2>&1 | tail -2
  for tool in memcheck racecheck; do
    timeout 100 $cuda/compute-sanitizer --tool $tool $tests/int8_kv_plugin_test --gtest_brief=1 --gtest_filter='*/cuda' 2>&1 | tail -2
  done
  timeout 150 $bin validate --device cuda --plugin fused,int8_kv 2>&1 | tail -1
  echo "checks done at ${SECONDS}s"
} > "$out/checks.log" 2>&1
cat "$out/checks.log"
ATTNB_RESULTS_DIR=results/h200 H100_PLUGINS=fused,int8_kv H100_DECODE_ONLY=1 H100_DEADLINE_S=$((560 - SECONDS)) \
    scripts/h100-results.sh device headline tune > /dev/null 2>&1
echo "results exit $? at ${SECONDS}s"
python3 - <<'PY'
import csv
for r in csv.DictReader(open("results/h200/bench.csv")):
    if r["plugin"] in ("fused", "int8_kv") and r["phase"] == "decode":
        print(" | ".join(r.get(k, "") for k in ("plugin", "batch", "context", "status", "time_p50_s", "tokens_per_s", "bandwidth_pct")))
for r in csv.DictReader(open("results/h200/tune.csv")):
    if r.get("plugin") in ("fused", "int8_kv"):
        print(" | ".join(f"{k}={v}" for k, v in r.items() if k in ("plugin", "context", "batch", "tokens_per_s", "status")))
PY
tail -3 results/h200/device.log
