#!/usr/bin/env bash
# One device call (H200) at 5c15c4c (the code of e4586d9: the decode epilogue of
# experiments/epilogue_arrival): fused's and int8_kv's CUDA tests, every plugin's CUDA
# correctness cases and validate (the sanitizers ran over the same code in epilogue_arrival);
# then fused's and int8_kv's headline decode rows and tune rows of results/h200 measured again
# (their rows deleted from bench.csv and tune.csv first); then fused's split counts 0 (automatic: 49), 16 and 32 at
# 1 x 65536 (splits.csv). Run from the repository root over stage.tar.xz.
set -uo pipefail
out=${OUT:?}
tar xf stage.tar.xz
bin=stage/bin/attnbench
tests=stage/libexec/attnbench/tests
export ATTNB_TEST_PLUGIN_DIR=$PWD/stage/lib/attnbench/plugins
{
  nvidia-smi --query-gpu=name,driver_version,clocks.max.sm,clocks.max.mem --format=csv,noheader
  for t in fused int8_kv; do
    timeout 120 $tests/${t}_plugin_test --gtest_brief=1 --gtest_filter='*/cuda' 2>&1 | tail -2
  done
  timeout 120 $tests/plugin_correctness_test --gtest_brief=1 --gtest_filter='*_cuda*' 2>&1 | tail -2
  timeout 150 $bin validate --device cuda --plugin fused,int8_kv 2>&1 | tail -1
  echo "checks done at ${SECONDS}s"
} > "$out/checks.log" 2>&1
cat "$out/checks.log"
ATTNB_RESULTS_DIR=results/h200 H100_PLUGINS=fused,int8_kv H100_DECODE_ONLY=1 H100_DEADLINE_S=$((470 - SECONDS)) \
    scripts/h100-results.sh device headline tune > /dev/null 2>&1
echo "results exit $? at ${SECONDS}s" | tee -a "$out/checks.log"
timeout 60 $bin bench --plugin fused --preset llama3-8b --dtype fp16 --phase decode --batch 1 --context 65536 \
    --min-time 0.2 --max-time 0.6 --sweep-tunable num_splits=0,16,32 --out "$out/splits.csv" > /dev/null 2>&1
echo "splits exit $? at ${SECONDS}s" | tee -a "$out/checks.log"
python3 - "$out/splits.csv" <<'PY' | tee -a "$out/checks.log"
import csv, sys
for path in ("results/h200/bench.csv", sys.argv[1]):
    try:
        for r in csv.DictReader(open(path)):
            if r["plugin"] in ("fused", "int8_kv") and r["phase"] == "decode":
                print(" | ".join(r.get(k, "") for k in ("plugin", "batch", "context", "tunables", "status", "time_p50_s", "tokens_per_s", "bandwidth_pct")))
    except OSError as e:
        print(e)
for r in csv.DictReader(open("results/h200/tune.csv")):
    if r.get("plugin") in ("fused", "int8_kv"):
        print(" | ".join(f"{k}={v}" for k, v in r.items() if k in ("plugin", "context", "batch", "tokens_per_s", "status")))
PY
tail -3 results/h200/device.log
