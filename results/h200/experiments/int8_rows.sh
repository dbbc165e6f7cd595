#!/usr/bin/env bash
# One device call (H200) at the tensor-copies build: compute-sanitizer memcheck and racecheck
# over int8_kv's CUDA tests; int8_kv's decode split counts at three shapes and early_launch at
# head dim 64 (splits.csv);
# Nsight Compute on the int8 decode kernel at 8 x 32768; then fused's and int8_kv's decode
# rows of results/h200 measured again in one call (their rows deleted from bench.csv and
# tune.csv first): the headline stage and tune. Run from the repository root over stage.tar.xz.
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
        --gtest_brief=1 --gtest_filter='*/cuda' 2>&1 | tail -3
    echo "$tool exit $?"
  done
  timeout 60 $bin bench --plugin int8_kv --out "$out/splits.csv" --min-time 0.2 --max-time 0.6 --phase decode \
      --preset llama3-8b --dtype fp16 --batch 32 --context 4096 --sweep-tunable kv_splits=0,1,2,4 > /dev/null 2>&1
  timeout 60 $bin bench --plugin int8_kv --out "$out/splits.csv" --resume --min-time 0.2 --max-time 0.6 --phase decode \
      --preset llama3-8b --dtype fp16 --batch 8 --context 32768 --sweep-tunable kv_splits=0,4,8,16 > /dev/null 2>&1
  timeout 60 $bin bench --plugin int8_kv --out "$out/splits.csv" --resume --min-time 0.2 --max-time 0.6 --phase decode \
      --preset llama3-8b --dtype fp16 --batch 1 --context 65536 --sweep-tunable kv_splits=0,16,32 > /dev/null 2>&1
  timeout 60 $bin bench --plugin int8_kv --out "$out/splits.csv" --resume --min-time 0.2 --max-time 0.6 --phase decode \
      --preset tinyllama --dtype fp16,bf16 --batch 32 --context 32768 --sweep-tunable early_launch=0,1 > /dev/null 2>&1
  python3 - "$out" <<'PY'
import csv, sys
for r in csv.DictReader(open(f"{sys.argv[1]}/splits.csv")):
    print(" | ".join(r[k] for k in ("preset", "dtype", "batch", "context", "tunables", "status", "time_p50_s", "bandwidth_pct")))
PY
  timeout 90 $cuda/ncu --kernel-name regex:int8_flash_decode_kernel --launch-skip 5 --launch-count 1 --set full \
      $bin bench --plugin int8_kv --out /tmp/ncu.csv --preset llama3-8b --dtype fp16 --batch 8 --context 32768 \
      --phase decode --warmup 0 --min-time 0.01 --max-time 0.05 --repetitions 1 > /tmp/ncu_int8.txt 2>&1
  echo "ncu exit $?"
  grep -E "Duration|DRAM Throughput|Issue Slots Busy|Eligible Warps|No Eligible|Registers Per|Achieved Occupancy|Warp Cycles Per Issued" /tmp/ncu_int8.txt | head -12
  echo "checks done at ${SECONDS}s"
} > "$out/checks.log" 2>&1
cat "$out/checks.log"
ATTNB_RESULTS_DIR=results/h200 H100_PLUGINS=fused,int8_kv H100_DECODE_ONLY=1 H100_DEADLINE_S=$((570 - SECONDS)) \
    scripts/h100-results.sh device headline tune > /dev/null 2>&1
echo "results exit $? at ${SECONDS}s"
python3 - <<'PY'
import csv
keys = ("plugin", "batch", "context", "status", "time_p50_s", "tokens_per_s", "gbps", "bandwidth_pct")
for r in csv.DictReader(open("results/h200/bench.csv")):
    if r["plugin"] in ("fused", "int8_kv") and r["phase"] == "decode":
        print(" | ".join(r.get(k, "") for k in keys))
for r in csv.DictReader(open("results/h200/tune.csv")):
    if r.get("plugin") in ("fused", "int8_kv"):
        print(" | ".join(f"{k}={v}" for k, v in r.items() if k in ("plugin", "context", "max_batch", "batch", "tokens_per_s", "status")))
PY
tail -3 results/h200/device.log
