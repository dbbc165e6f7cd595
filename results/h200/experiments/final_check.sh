#!/usr/bin/env bash
# One device call (H200): the last build (the wgmma prefill's own tile by head dim). fused
# validated on CUDA, its CUDA tests, and the prefill at 4 x 4096 at the defaults for
# llama3-8b and tinyllama, fp16 and bf16. Run from the repository root over stage.tar.xz.
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
timeout 100 $bin bench --plugin fused --out "$out/prefill_defaults.csv" --preset llama3-8b,tinyllama \
    --dtype fp16,bf16 --phase prefill --batch 4 --context 4096 > "$out/prefill_defaults.log" 2>&1
echo "prefill exit $?"
python3 - "$out" <<'PY'
import csv, sys
for r in csv.DictReader(open(f"{sys.argv[1]}/prefill_defaults.csv")):
    print(" | ".join(r[k] for k in ("plugin", "preset", "dtype", "tunables", "status", "time_p50_s", "tflops", "compute_pct", "commit")))
PY
