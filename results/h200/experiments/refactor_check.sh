#!/usr/bin/env bash
# One device call (H200), build 7a59fd1 (both wgmma kernels' warpgroup step in one GroupStep):
# fused checked on CUDA (tests, validate), its prefill at 4 x 4096 causal at the defaults for
# llama3-8b fp16 and bf16 and tinyllama fp16 (rows.csv), and fused's headline prefill row
# measured again (deleted from results/h200/bench.csv first). Run over stage.tar.xz.
set -uo pipefail
out=${OUT:?}
tar xf stage.tar.xz
bin=stage/bin/attnbench
export ATTNB_TEST_PLUGIN_DIR=$PWD/stage/lib/attnbench/plugins
{
  nvidia-smi --query-gpu=name,driver_version,clocks.max.sm,clocks.max.mem --format=csv,noheader
  timeout 150 stage/libexec/attnbench/tests/fused_plugin_test --gtest_brief=1 --gtest_filter='*/cuda' 2>&1 | tail -3
  timeout 100 $bin validate --device cuda --plugin fused 2>&1 | tail -1
  timeout 100 $bin bench --plugin fused --out "$out/rows.csv" --min-time 0.2 --max-time 0.8 --phase prefill \
      --batch 4 --context 4096 --preset llama3-8b,tinyllama --dtype fp16,bf16 2>&1 | tail -1
  python3 - "$out" <<'PY'
import csv, sys
for r in csv.DictReader(open(f"{sys.argv[1]}/rows.csv")):
    print(" | ".join(r[k] for k in ("plugin", "preset", "dtype", "tunables", "status", "time_p50_s", "tflops", "compute_pct", "commit")))
PY
} > "$out/checks.log" 2>&1
cat "$out/checks.log"
ATTNB_RESULTS_DIR=results/h200 H100_PLUGINS=fused H100_DEADLINE_S=200 scripts/h100-results.sh device headline > /dev/null 2>&1
echo "results exit $?"
grep -E "^fused,.*,prefill," results/h200/bench.csv | cut -d, -f1,6,10,29-31,45-47 | head
