#!/usr/bin/env bash
# One device call (H200), the session's final build: fused checked on CUDA (its tests sweep
# every prefill kernel, tile and decode setting; validate for fused and int8_kv; memcheck on
# the tile sweep); the prefill kernels x tiles at 4 x 4096 causal and int8_kv's decode tiles
# (rows.csv); then fused's and
# int8_kv's rows of results/h200 measured again (their rows were deleted from bench.csv and
# tune.csv first): the headline stage and tune. Run from the repository root over stage.tar.xz.
set -uo pipefail
out=${OUT:?}
tar xf stage.tar.xz
bin=stage/bin/attnbench
cuda=/usr/local/cuda/bin
export ATTNB_TEST_PLUGIN_DIR=$PWD/stage/lib/attnbench/plugins
{
  nvidia-smi --query-gpu=name,driver_version,clocks.max.sm,clocks.max.mem --format=csv,noheader
  timeout 150 stage/libexec/attnbench/tests/fused_plugin_test --gtest_brief=1 --gtest_filter='*/cuda' 2>&1 | tail -3
  timeout 60 stage/libexec/attnbench/tests/int8_kv_plugin_test --gtest_brief=1 --gtest_filter='*/cuda' 2>&1 | tail -2
  timeout 100 $bin validate --device cuda --plugin fused,int8_kv 2>&1 | tail -1
  timeout 120 $cuda/compute-sanitizer --tool memcheck stage/libexec/attnbench/tests/fused_plugin_test \
      --gtest_brief=1 --gtest_filter='*EveryTileShape*/cuda' 2>&1 | tail -3
  common=(--out "$out/rows.csv" --resume --min-time 0.2 --max-time 0.8 --phase prefill --batch 4 --context 4096)
  timeout 120 $bin bench --plugin fused "${common[@]}" --preset llama3-8b --dtype fp16 \
      --sweep-tunable wgmma=2,3 --sweep-tunable tile_kv=0,32,64,128 2>&1 | tail -1
  timeout 100 $bin bench --plugin fused "${common[@]}" --preset llama3-8b,tinyllama --dtype bf16,fp16 \
      --sweep-tunable wgmma=1,2,3 2>&1 | tail -1
  timeout 100 $bin bench --plugin int8_kv --out "$out/rows.csv" --resume --min-time 0.2 --max-time 0.6 \
      --preset llama3-8b --dtype fp16 --phase decode --batch 1,8,32 --context 4096,32768,65536 \
      --sweep-tunable tile_kv=32,64 2>&1 | tail -1
  python3 - "$out" <<'PY'
import csv, sys
for r in csv.DictReader(open(f"{sys.argv[1]}/rows.csv")):
    print(" | ".join(r[k] for k in ("plugin", "preset", "dtype", "phase", "batch", "context", "tunables", "status", "time_p50_s", "tflops", "compute_pct", "bandwidth_pct", "commit")))
PY
} > "$out/checks.log" 2>&1
cat "$out/checks.log"
ATTNB_RESULTS_DIR=results/h200 H100_PLUGINS=fused,int8_kv H100_DEADLINE_S=380 scripts/h100-results.sh device headline tune \
    > /dev/null 2>&1
echo "results exit $?"
python3 - <<'PY'
import csv
keys = ("plugin", "phase", "batch", "context", "status", "time_p50_s", "tokens_per_s", "tflops", "gbps", "bandwidth_pct")
for r in csv.DictReader(open("results/h200/bench.csv")):
    if r["plugin"] in ("fused", "int8_kv"):
        print(" | ".join(r.get(k, "") for k in keys))
for r in csv.DictReader(open("results/h200/tune.csv")):
    if r.get("plugin") in ("fused", "int8_kv"):
        print(" | ".join(f"{k}={v}" for k, v in r.items() if k in ("plugin", "context", "max_batch", "batch", "tokens_per_s", "status")))
PY
tail -4 results/h200/device.log
