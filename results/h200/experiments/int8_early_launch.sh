#!/usr/bin/env bash
# One device call (H200), int8_kv with tunable early_launch: (1) its CUDA tests (every value
# of every tunable) and validate; (2) early_launch 0/1 at the issue's shapes (llama3-8b, fp16)
# and at head dim 64 (tinyllama, fp16 and bf16), two rounds: is the early launch what costs
# head dim 64 fp16 at 32 x 32768 (experiments/int8_pdl_hd64)? (3) int8_kv's rows of
# results/h200 measured again (deleted from bench.csv and tune.csv first): the headline stage
# and tune. Run from the repository root over stage.tar.xz.
set -uo pipefail
out=${OUT:?}
tar xf stage.tar.xz
bin=stage/bin/attnbench
export ATTNB_TEST_PLUGIN_DIR=$PWD/stage/lib/attnbench/plugins
{
  nvidia-smi --query-gpu=name,driver_version,clocks.max.sm,clocks.max.mem --format=csv,noheader
  timeout 120 stage/libexec/attnbench/tests/int8_kv_plugin_test --gtest_brief=1 --gtest_filter='*/cuda' 2>&1 | tail -3
  timeout 100 $bin validate --device cuda --plugin int8_kv 2>&1 | tail -1
} > "$out/checks.log" 2>&1
cat "$out/checks.log"
dec=(--plugin int8_kv --min-time 0.2 --max-time 0.6 --phase decode --sweep-tunable early_launch=0,1)
for round in 1 2; do
  timeout 60 $bin bench "${dec[@]}" --preset llama3-8b --dtype fp16 --out "$out/early_r$round.csv" --resume \
      --batch 1,8,32 --context 4096,32768 > /dev/null 2>&1
  echo "llama3-8b round $round exit $?"
  timeout 60 $bin bench "${dec[@]}" --preset tinyllama --dtype fp16,bf16 --out "$out/early_r$round.csv" --resume \
      --batch 8,32 --context 4096,32768 > /dev/null 2>&1
  echo "tinyllama round $round exit $?"
done
python3 - "$out" <<'PY'
import csv, sys, glob, os
rows = {}
for path in sorted(glob.glob(f"{sys.argv[1]}/early*.csv")):
    for r in csv.DictReader(open(path)):
        key = (r["preset"], r["dtype"], r["batch"], r["context"], r["tunables"])
        rows.setdefault(key, []).append(f'{float(r["bandwidth_pct"] or 0):.1f}')
for k, v in sorted(rows.items()):
    print(" ".join(k), "|", " ".join(v))
PY
ATTNB_RESULTS_DIR=results/h200 H100_PLUGINS=int8_kv H100_DEADLINE_S=330 scripts/h100-results.sh device headline tune \
    > /dev/null 2>&1
echo "results exit $?"
python3 - <<'PY'
import csv
keys = ("plugin", "phase", "batch", "context", "status", "time_p50_s", "tokens_per_s", "bandwidth_pct", "commit")
for r in csv.DictReader(open("results/h200/bench.csv")):
    if r["plugin"] == "int8_kv":
        print(" | ".join(r.get(k, "") for k in keys))
for r in csv.DictReader(open("results/h200/tune.csv")):
    if r.get("plugin") == "int8_kv":
        print(" | ".join(f"{k}={v}" for k, v in r.items() if k in ("plugin", "context", "max_batch", "batch", "tokens_per_s", "status")))
PY
tail -3 results/h200/device.log
