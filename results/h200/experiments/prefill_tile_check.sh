#!/usr/bin/env bash
# One device call (H200): both prefill kernels after their shared PrefillTile. fused validated
# on CUDA (every tunable value, wgmma=0 included), its CUDA tests under compute-sanitizer
# memcheck, and the prefill at 4 x 4096 on both kernels at their defaults, fp16, D 128 and 64.
# Run from the repository root over stage.tar.xz.
set -uo pipefail
out=${OUT:?}
tar xf stage.tar.xz
bin=stage/bin/attnbench
export ATTNB_TEST_PLUGIN_DIR=$PWD/stage/lib/attnbench/plugins
{
  nvidia-smi --query-gpu=name,driver_version,clocks.max.sm --format=csv,noheader
  timeout 120 $bin validate --device cuda --plugin fused 2>&1 | tail -1
  timeout 150 compute-sanitizer --tool memcheck --print-limit 5 stage/libexec/attnbench/tests/fused_plugin_test \
      --gtest_brief=1 --gtest_filter='*/cuda' 2>&1 | tail -2
} > "$out/checks.log" 2>&1
cat "$out/checks.log"
timeout 100 $bin bench --plugin fused --out "$out/prefill_kernels.csv" --preset llama3-8b,tinyllama \
    --dtype fp16 --phase prefill --batch 4 --context 4096 --sweep-tunable wgmma=0,1 > "$out/prefill_kernels.log" 2>&1
echo "prefill exit $?"
python3 - "$out" <<'PY'
import csv, sys
for r in csv.DictReader(open(f"{sys.argv[1]}/prefill_kernels.csv")):
    print(" | ".join(r[k] for k in ("plugin", "preset", "dtype", "tunables", "status", "time_p50_s", "tflops", "compute_pct", "commit")))
PY
