#!/usr/bin/env bash
# One device call (H200): fused at its final build (tile_kv=0: each kernel's own tile). Checks
# (validate on CUDA, its CUDA tests), the prefill at 4 x 4096 over tile_kv 0/32/64/128 for
# llama3-8b fp16 and bf16 and tinyllama fp16, then fused's rows of results/h200 measured again
# (its rows were deleted from bench.csv and tune.csv first): the headline stage and tune.
# Run from the repository root over stage.tar.xz.
set -uo pipefail
out=${OUT:?}
tar xf stage.tar.xz
bin=stage/bin/attnbench
export ATTNB_TEST_PLUGIN_DIR=$PWD/stage/lib/attnbench/plugins
{
  nvidia-smi --query-gpu=name,driver_version,clocks.max.sm --format=csv,noheader
  timeout 120 $bin validate --device cuda --plugin fused 2>&1 | tail -1
  timeout 120 stage/libexec/attnbench/tests/fused_plugin_test --gtest_brief=1 --gtest_filter='*/cuda' 2>&1 | tail -2
} > "$out/checks.log" 2>&1
cat "$out/checks.log"
timeout 120 $bin bench --plugin fused --out "$out/prefill_defaults.csv" --preset llama3-8b,tinyllama \
    --dtype fp16,bf16 --phase prefill --batch 4 --context 4096 --sweep-tunable tile_kv=0,32,64,128 \
    > "$out/prefill_defaults.log" 2>&1
echo "prefill exit $?"
ATTNB_RESULTS_DIR=results/h200 H100_PLUGINS=fused H100_DEADLINE_S=380 scripts/h100-results.sh device headline tune \
    > /dev/null 2>&1
echo "results exit $?"
python3 - "$out" <<'PY'
import csv, sys
keys = ("plugin", "preset", "dtype", "phase", "batch", "context", "tunables", "status", "time_p50_s",
        "tokens_per_s", "tflops", "compute_pct", "gbps", "bandwidth_pct")
for name in ("prefill_defaults.csv", "bench.csv"):
    try:
        rows = list(csv.DictReader(open(f"{sys.argv[1]}/{name}")))
    except OSError:
        continue
    for r in rows:
        if r["plugin"] == "fused":
            print(" | ".join(r.get(k, "") for k in keys))
PY
tail -4 results/h200/device.log
